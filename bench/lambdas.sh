#!/usr/bin/env bash
# Each Lambda bootstrap's size and cold init, and, with BASE_REF set (a
# commit, tag or branch), the same figures for that revision side by side:
# "before" and "after" of a change, measured in one run on this machine.
# Sizes are of the linux/arm64 builds `make lambdas` makes; cold init is
# BenchmarkColdInit in internal/runtimeapi (process spawn to the first
# Runtime API GET /invocation/next, amd64 builds of the same code).
# Rewrites the "## Lambda functions" section of BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT_MD=${OUT_MD:-BENCHMARKS.md}
tmp=$(mktemp -d)
cleanup() {
  if [ -d "$tmp/base" ]; then git worktree remove --force "$tmp/base" >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# measure DIR OUT: sizes (fn bytes) and the cold-init benchmark of the tree in DIR.
measure() {
  (cd "$1" && make -s lambdas BIN="$2/bin" > "$2/sizes.txt" &&
    go test -run '^$' -bench 'ColdInit|WarmInvoke' -benchtime "${INIT_RUNS:-50}x" -count "${COUNT:-3}" ./internal/runtimeapi > "$2/init.txt")
}
# median_init FILE FN: the median init-ms of FN's cold-init runs ("-" when not measured).
median_init() {
  awk -v f="$2" '$1 ~ "ColdInit/"f"(-[0-9]+)?$" {for (i = 1; i < NF; i++) if ($(i+1) == "init-ms") print $i}' "$1" |
    sort -n | awk '{a[NR] = $1} END {if (NR) print a[int((NR + 1) / 2)]; else print "-"}'
}
size_mb() {
  awk -v f="$2" '$1 == f {printf "%.1f", $2/1e6; found = 1} END {if (!found) print "-"}' "$1"
}

mkdir -p "$tmp/after"
measure "$PWD" "$tmp/after"
if [ -n "${BASE_REF:-}" ]; then
  mkdir -p "$tmp/before"
  git worktree add --detach "$tmp/base" "$BASE_REF" >/dev/null
  measure "$tmp/base" "$tmp/before"
fi

section=$(mktemp)
{
  echo "## Lambda functions"
  echo
  echo "Written by \`bench/lambdas.sh\` on $(date -u +%Y-%m-%d), $(nproc) cores, $(go env GOVERSION)."
  echo 'Static linux/arm64 `bootstrap` binaries (`make lambdas`: `-tags lambda.norpc -trimpath -ldflags "-s -w"`). Cold init is'
  echo 'measured by `go test -bench ColdInit ./internal/runtimeapi` on this machine (amd64 builds of the same code): process spawn'
  echo "to the first Runtime API \`GET /invocation/next\`, median of ${COUNT:-3} runs of ${INIT_RUNS:-50} starts."
  if [ -n "${BASE_REF:-}" ]; then
    echo "Before is \`$(git rev-parse --short "$BASE_REF")\`, measured in the same run."
    echo
    echo "| function | size before (MB) | size (MB) | cold init before (ms) | cold init (ms) |"
    echo "|---|---:|---:|---:|---:|"
  else
    echo
    echo "| function | size (MB) | cold init (ms) |"
    echo "|---|---:|---:|"
  fi
  while read -r fn _; do
    if [ -n "${BASE_REF:-}" ]; then
      echo "| $fn | $(size_mb "$tmp/before/sizes.txt" "$fn") | $(size_mb "$tmp/after/sizes.txt" "$fn") | $(median_init "$tmp/before/init.txt" "$fn") | $(median_init "$tmp/after/init.txt" "$fn") |"
    else
      echo "| $fn | $(size_mb "$tmp/after/sizes.txt" "$fn") | $(median_init "$tmp/after/init.txt" "$fn") |"
    fi
  done < "$tmp/after/sizes.txt"
  echo
  echo "Warm invoke round trip: $(awk '/BenchmarkWarmInvoke/ {printf "%.3f ms\n", $3/1e6}' "$tmp/after/init.txt" | sort -n | sed -n 2p)."
  echo
} > "$section"

python3 - "$OUT_MD" "$section" <<'PY'
import re, sys
md, sec = open(sys.argv[1]).read(), open(sys.argv[2]).read()
m = re.search(r'^## Lambda functions\n.*?(?=^## |\Z)', md, flags=re.S | re.M)
md = md[:m.start()] + sec + md[m.end():] if m else md.rstrip('\n') + '\n\n' + sec
open(sys.argv[1], 'w').write(md)
PY
rm -f "$section"
echo "wrote the Lambda section of $OUT_MD" >&2
