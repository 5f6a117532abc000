#!/usr/bin/env bash
# LocalStack ready hook (and the offline stack's deploy step): create the
# buckets, tables and queue of template.yaml, deploy the three functions
# with the template's environment, timeout and memory, and create the
# state machine with its substitutions filled in. Everything is read from
# template.yaml by `sluice local deploy`; nothing here repeats a setting.
#
# Inside the LocalStack container the repository is mounted at
# /opt/sluice (see docker-compose.yml); elsewhere the script finds it
# from its own path.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="${SLUICE_REPO:-$(cd "$here/../.." && pwd)}"
sluice="${SLUICE_BIN:-$repo/bin/sluice}"
endpoint="${AWS_ENDPOINT_URL:-http://localhost:4566}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export AWS_REGION="${AWS_REGION:-us-east-1}"

args=(--endpoint "$endpoint" --template "$repo/template.yaml" --bootstrap-dir "$repo/bin/lambda" --stack "${SLUICE_STACK:-sluice}")
[ -n "${SLUICE_LAMBDA_ARCH:-}" ] && args+=(--arch "$SLUICE_LAMBDA_ARCH")
"$sluice" local deploy "${args[@]}"
