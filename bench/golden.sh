#!/usr/bin/env bash
# The golden comparison: sluice built at BASE_REF against sluice built from
# the working tree, on the same inputs and specs, must write the same
# outputs. JSON Lines and CSV parts, reject files (records and their
# positions) and _windows.jsonl byte for byte; Parquet by values and row
# order through DuckDB (columns matched by name); the manifests' counts.
# See bench/golden/compare.py for what is compared and how file names that
# hold the run id are matched.
#
#   ./bench/golden.sh [BASE_REF]      (make bench-golden BASE_REF=...)
#
# BASE_REF defaults to where this branch left main: git merge-base of HEAD
# and origin/main (main when there is no origin); on main itself, where
# that is HEAD, it is HEAD~1, main before its last merge or commit.
# Cases (GOLDEN_ROWS rows of bench data, default 1M, generated when missing):
#   bench/spec.yaml into JSON Lines, CSV and Parquet, --parallel 1 and 2;
#   the same job from JSON Lines input, --parallel 1 and 2; from gzip and
#   zstd input, --parallel 2; examples/orders/spec.yaml on the bench data
#   (with max_open_files: 400 for its 336 daily partitions) into JSON Lines
#   and Parquet, --parallel 2; and every example in
#   examples/: orders (and its sink as csv and parquet) and orders-iceberg
#   on examples/orders/orders.csv, clicks on bench/golden/clicks.jsonl.
# Prints one line per case and each difference (file, first differing
# line); the last line is the summary. Exits 1 on any difference.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${BENCH_DIR:-.bench}
GOLDEN_ROWS=${GOLDEN_ROWS:-1000000}

default_base() {
  local main=origin/main mb
  git rev-parse -q --verify "$main^{commit}" > /dev/null || main=main
  mb=$(git merge-base HEAD "$main")
  if [ "$mb" = "$(git rev-parse HEAD)" ]; then git rev-parse HEAD~1; else echo "$mb"; fi
}
BASE_REF=${1:-${BASE_REF:-}}
[ -n "$BASE_REF" ] || BASE_REF=$(default_base)
base=$(git rev-parse --verify "$BASE_REF^{commit}")
short=$(git rev-parse --short "$base")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sluice-golden.XXXXXX")
cleanup() {
  git worktree remove --force "$tmp/src" > /dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$DATA" "$tmp/specs"
source bench/lib.sh
duck_install

echo "building sluice at $short ($BASE_REF) and at the working tree" >&2
git worktree add --detach -q "$tmp/src" "$base"
(cd "$tmp/src" && go build -trimpath -o "$tmp/sluice-base" ./cmd/sluice)
git worktree remove --force "$tmp/src"
go build -trimpath -o "$tmp/sluice-new" ./cmd/sluice

gen_data "$GOLDEN_ROWS"
in="$DATA/orders-$GOLDEN_ROWS"
sp="$tmp/specs"
orders=examples/orders/spec.yaml
# The orders example on the bench data: its 336 days of created_at are
# its partitions, more than the default max_open_files (64), which would
# close and reopen files nearly every row; so here it may hold them all.
wide="$sp/spec-orders-wide.yaml"
sed 's/^  max_rows_per_file: 100000$/&\n  max_open_files: 400/' "$orders" > "$wide"
grep -q '^  max_open_files: 400$' "$wide" || { echo "$orders: no max_rows_per_file line to extend" >&2; exit 1; }
cases=( # name|spec|input|parallel
  "bench-jsonl-p1|bench/spec.yaml|$in.csv|1"
  "bench-jsonl-p2|bench/spec.yaml|$in.csv|2"
  "bench-csv-p1|$(variant bench/spec.yaml csv "format: jsonl" "format: csv" "$sp")|$in.csv|1"
  "bench-csv-p2|$sp/spec-csv.yaml|$in.csv|2"
  "bench-parquet-p1|$(variant bench/spec.yaml parquet "format: jsonl" "format: parquet" "$sp")|$in.csv|1"
  "bench-parquet-p2|$sp/spec-parquet.yaml|$in.csv|2"
  "bench-jsonl-in-p1|$(variant bench/spec.yaml jsonl-in "format: csv" "format: jsonl" "$sp")|$in.jsonl|1"
  "bench-jsonl-in-p2|$sp/spec-jsonl-in.yaml|$in.jsonl|2"
  "bench-gzip-p2|bench/spec.yaml|$in.csv.gz|2"
  "bench-zstd-p2|bench/spec.yaml|$in.csv.zst|2"
  "orders-spec-on-bench-jsonl-p2|$wide|$in.csv|2"
  "orders-spec-on-bench-parquet-p2|$(variant "$wide" orders-wide-parquet "format: jsonl" "format: parquet" "$sp")|$in.csv|2"
  "example-orders|$orders|examples/orders/orders.csv|1"
  "example-orders-csv|$(variant "$orders" orders-csv "format: jsonl" "format: csv" "$sp")|examples/orders/orders.csv|1"
  "example-orders-parquet|$(variant "$orders" orders-parquet "format: jsonl" "format: parquet" "$sp")|examples/orders/orders.csv|1"
  "example-orders-iceberg|examples/orders-iceberg/spec.yaml|examples/orders/orders.csv|1"
  "example-clicks|examples/clicks/spec.yaml|bench/golden/clicks.jsonl|1"
)
# Every example must have a case: a new one needs its input here.
for ex in examples/*/spec.yaml; do
  printf '%s\n' "${cases[@]}" | grep -q "|$ex|" || { echo "no golden case runs $ex: add one to bench/golden.sh" >&2; exit 1; }
done

# run_case NAME SPEC INPUT PARALLEL: both builds, then the comparison.
run_case() {
  local name=$1 spec=$2 input=$3 par=$4 side ok=0
  # A spec's tests: section changes nothing a run does, and a base from
  # before `sluice test` refuses the key: the base runs the spec without it.
  python3 -c 'import re,sys; s=open(sys.argv[1]).read(); open(sys.argv[2],"w").write(re.sub(r"(?ms)^tests:.*?(?=^\S|\Z)", "", s))' "$spec" "$tmp/base-spec.yaml"
  local base_spec="$tmp/base-spec.yaml"
  for side in base new; do
    local side_spec=$spec
    [ "$side" = base ] && side_spec=$base_spec
    if ! "$tmp/sluice-$side" run --quiet --spec "$side_spec" --input "$input" --output "$tmp/out/$side" --parallel "$par" > "$tmp/$side.log" 2>&1; then
      echo "$name: the $side build's run failed:"
      tail -n 5 "$tmp/$side.log" | sed 's/^/  /'
      ok=1
    fi
  done
  if [ "$ok" = 0 ]; then
    python3 bench/golden/compare.py "$name" "$tmp/out/base" "$tmp/out/new" "$tmp/pairs" || ok=1
    if [ -s "$tmp/pairs" ]; then node bench/duck/job.mjs diff < "$tmp/pairs" | sed "s/^\(parquet:\|\.\.\. and\)/$name: \1/" || ok=1; fi
  fi
  rm -rf "$tmp/out" "$tmp/pairs"
  if [ "$ok" = 0 ]; then echo "$name: same"; else echo "$name: DIFFERS"; fi
  return "$ok"
}

failed=()
for c in "${cases[@]}"; do
  IFS='|' read -r name spec input par <<< "$c"
  run_case "$name" "$spec" "$input" "$par" || failed+=("$name")
done
if [ ${#failed[@]} -eq 0 ]; then
  echo "outputs identical to $short in all ${#cases[@]} cases"
else
  echo "outputs differ from $short in ${#failed[@]} of ${#cases[@]} cases: ${failed[*]}"
  exit 1
fi
