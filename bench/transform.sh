#!/usr/bin/env bash
# The transform function's cost for one 64 MiB chunk of the reference
# job's input (bench/gen rows, bench/spec.yaml):
#   - the handler on in-memory buckets (BenchmarkTransformChunk in
#     shared/handler): sluice's own work, no storage service;
#   - the real bootstrap through the real state machine on the offline
#     stack (BenchmarkTransformChunkOnStack in e2e): its REPORT line's
#     duration and Max Memory Used (peak RSS), moto's S3 included.
# With BASE_REF=<rev>, the in-memory figure of that revision too, measured
# in the same run (the benchmark file is copied into a worktree of it).
# Rewrites the "## Transform function, one 64 MiB chunk" section of
# BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT_MD=${OUT_MD:-BENCHMARKS.md}
RUNS=${RUNS:-3}
tmp=$(mktemp -d)
trap 'git worktree remove --force "$tmp/base" 2>/dev/null || true; rm -rf "$tmp"' EXIT

# mem DIR: the in-memory benchmark in DIR, RUNS times; prints ms/op lines.
mem() {
  (cd "$1" && go test -run '^$' -bench 'BenchmarkTransformChunk$' -benchtime 3x -count "$RUNS" ./shared/handler/) |
    awk '/^BenchmarkTransformChunk/ {printf "%.0f\n", $3/1e6}'
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

after=$(mem . | median)
before=""
if [ -n "${BASE_REF:-}" ]; then
  git worktree add -q --detach "$tmp/base" "$BASE_REF"
  cp shared/handler/transform_bench_test.go "$tmp/base/shared/handler/"
  # The benchmark uses the test helpers with testing.TB.
  sed -i 's/^func newEnv(t \*testing.T)/func newEnv(t testing.TB)/; s/^func put(t \*testing.T,/func put(t testing.TB,/; s/^func invoke(t \*testing.T,/func invoke(t testing.TB,/' "$tmp/base/shared/handler/handler_test.go"
  before=$(mem "$tmp/base" | median)
fi
stack=$(CI=true go test -run '^$' -bench 'BenchmarkTransformChunkOnStack' -benchtime "${RUNS}x" -timeout 30m ./e2e |
  awk '/^BenchmarkTransformChunkOnStack/ {for (i = 1; i <= NF; i++) {if ($(i+1) == "transform-ms") ms = $i; if ($(i+1) == "transform-peak-MB") mb = $i}} END {printf "%.0f %.0f\n", ms, mb}')
read -r stack_ms stack_mb <<< "$stack"

section="$tmp/section.md"
{
  echo "## Transform function, one 64 MiB chunk"
  echo
  echo "Written by \`bench/transform.sh\` on $(date -u +%Y-%m-%d), $(nproc) cores, $(go env GOVERSION). One 64 MiB chunk of the"
  echo "reference job's input (\`bench/gen\` rows, \`bench/spec.yaml\`), median of $RUNS runs."
  echo
  if [ -n "$before" ]; then
    echo "| where | before (\`$(git rev-parse --short "$BASE_REF")\`) | now |"
    echo "|---|---:|---:|"
    echo "| the handler on in-memory buckets (sluice's own work), ms | $before | $after |"
    echo "| the real bootstrap on the offline stack (moto's S3 included), ms | - | $stack_ms |"
  else
    echo "| where | now |"
    echo "|---|---:|"
    echo "| the handler on in-memory buckets (sluice's own work), ms | $after |"
    echo "| the real bootstrap on the offline stack (moto's S3 included), ms | $stack_ms |"
  fi
  echo
  echo "Peak memory of the transform function on the stack (its REPORT line's Max Memory Used, the process's peak RSS):"
  echo "$stack_mb MB. In-memory buckets hold whole objects, so that benchmark gives no peak of its own. Of the stack's"
  echo "time, the in-memory figure is sluice's; the rest is reading the chunk from and writing the parts to moto's S3."
  echo
} > "$section"

python3 - "$OUT_MD" "$section" <<'PY'
import re, sys
md, sec = open(sys.argv[1]).read(), open(sys.argv[2]).read()
m = re.search(r'^## Transform function, one 64 MiB chunk\n.*?(?=^## |\Z)', md, flags=re.S | re.M)
md = md[:m.start()] + sec + md[m.end():] if m else md.rstrip('\n') + '\n\n' + sec
open(sys.argv[1], 'w').write(md)
PY
echo "wrote the transform section of $OUT_MD" >&2
