#!/usr/bin/env bash
# The reference-job benchmark. It generates the input, runs sluice (one
# core and two), and Miller and DuckDB where installed, on the same job;
# checks that every tool's output has the same row count and sum of
# amount_cents; and rewrites BENCHMARKS.md with medians of RUNS runs.
#
#   ./bench/run.sh            # 5M rows (~560 MB) and 20M rows for memory
#   ROWS=1000000 RUNS=1 BIG_ROWS=0 ./bench/run.sh   # a quick check
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-5000000}
BIG_ROWS=${BIG_ROWS:-20000000}
RUNS=${RUNS:-3}
DATA=${BENCH_DIR:-.bench}
# Output goes to memory (tmpfs) when the machine has it, so the figures
# measure the tools, not the disk's writeback; every tool writes there.
if [ -z "${OUT_DIR:-}" ]; then
  if [ -d /dev/shm ] && [ -w /dev/shm ]; then OUT_DIR=/dev/shm/sluice-bench-out; else OUT_DIR=$DATA/out; fi
fi
OUT_MD=${OUT_MD:-BENCHMARKS.md}
mkdir -p "$DATA"
[ -x bin/sluice ] || make build
go build -o "$DATA/verify" ./bench/verify

csv="$DATA/orders-$ROWS.csv"
[ -s "$csv" ] || go run ./bench/gen -rows "$ROWS" -o "$csv"
[ -s "$csv.gz" ] || go run ./bench/gen -rows "$ROWS" -o "$csv.gz" -gzip
size=$(stat -c %s "$csv")

results=()   # "name|MB/s|RSS MB|rows|sum"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# measure NAME CMD... : runs CMD RUNS times under /usr/bin/time, prints the
# median wall seconds and max RSS.
measure() {
  local name=$1; shift
  local secs=() rss=0
  for _ in $(seq "$RUNS"); do
    rm -rf "$OUT_DIR"
    /usr/bin/time -f "%e %M" -o "$DATA/time.txt" "$@" > /dev/null
    read -r s m < "$DATA/time.txt"
    secs+=("$s"); [ "$m" -gt "$rss" ] && rss=$m
  done
  local med; med=$(printf '%s\n' "${secs[@]}" | median)
  echo "$med $rss"
}

verify_out() { "$DATA/verify" -field amount_cents $(find "$OUT_DIR" -name '*.jsonl' -not -path '*/rejects/*' | sort); }

row() { # name, input size, cmd...
  local name=$1 bytes=$2; shift 2
  read -r sec rss < <(measure "$name" "$@")
  read -r rows sum < <(verify_out)
  local mbs; mbs=$(awk -v b="$bytes" -v s="$sec" 'BEGIN{printf "%.0f", b/1e6/s}')
  echo "$name: $mbs MB/s, RSS $((rss/1024)) MB, $rows rows, sum $sum" >&2
  results+=("$name|$mbs|$((rss/1024))|$rows|$sum|$sec")
}

sl="bin/sluice run --spec bench/spec.yaml --output $OUT_DIR --quiet"
row "sluice, 1 core (taskset -c 0, --parallel 1)" "$size" taskset -c 0 $sl --input "$csv"
row "sluice, 2 cores (--parallel 2)" "$size" $sl --input "$csv" --parallel 2
row "sluice, gzip input, 1 core" "$size" taskset -c 0 $sl --input "$csv.gz"
row "sluice, gzip input, 2 cores" "$size" $sl --input "$csv.gz" --parallel 2

if command -v mlr >/dev/null; then
  row "Miller $(mlr --version | awk '{print $2}')" "$size" sh -c "mkdir -p $OUT_DIR && mlr --icsv --ojsonl rename user_id,customer_id then filter '\$email =~ \"@\" && is_numeric(\$amount)' then put '\$email = tolower(\$email); \$amount_cents = round(\$amount * 100)' $csv > $OUT_DIR/mlr.jsonl"
fi
if command -v duckdb >/dev/null; then
  row "DuckDB $(duckdb --version | awk '{print $1}'), 2 threads" "$size" sh -c "mkdir -p $OUT_DIR && duckdb -c \"SET threads=2; COPY (SELECT order_id, user_id AS customer_id, lower(email) AS email, TRY_CAST(amount AS DOUBLE) AS amount, currency, status, country, created_at, product, CAST(round(TRY_CAST(amount AS DOUBLE)*100) AS BIGINT) AS amount_cents FROM read_csv('$csv', all_varchar=true) WHERE email LIKE '%@%' AND TRY_CAST(amount AS DOUBLE) IS NOT NULL) TO '$OUT_DIR/duck.jsonl' (FORMAT json)\""
fi

if [ "$BIG_ROWS" -gt 0 ]; then
  big="$DATA/orders-$BIG_ROWS.csv"
  [ -s "$big" ] || go run ./bench/gen -rows "$BIG_ROWS" -o "$big"
  bsize=$(stat -c %s "$big")
  # One chunk of the whole file: what a transform Lambda holds at most.
  RUNS=1 row "sluice, $((BIG_ROWS/1000000))M rows ($((bsize/1000000)) MB) as one chunk, 1 core" "$bsize" taskset -c 0 $sl --input "$big"
  RUNS=1 row "sluice, $((BIG_ROWS/1000000))M rows, 2 cores" "$bsize" $sl --input "$big" --parallel 2
fi


# Every tool must agree with sluice's first run on rows and the sum.
ref_rows=$(echo "${results[0]}" | cut -d'|' -f4); ref_sum=$(echo "${results[0]}" | cut -d'|' -f5)
status="all outputs agree: $ref_rows rows, sum of amount_cents $ref_sum"
for r in "${results[@]}"; do
  IFS='|' read -r name mbs rss rows sum sec <<< "$r"
  case "$name" in *"M rows"*) continue;; esac
  if [ "$rows" != "$ref_rows" ] || [ "$sum" != "$ref_sum" ]; then
    status="MISMATCH: $name has $rows rows, sum $sum; sluice has $ref_rows, $ref_sum"
  fi
done
echo "$status" >&2
rm -rf "$OUT_DIR"

cpu=$(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)
{
  echo "# Benchmarks"
  echo
  echo "Written by \`make bench\` (bench/run.sh) on $(date -u +%Y-%m-%d). Do not edit by hand."
  echo
  echo "- Machine: $(nproc) cores ($cpu), $(free -g | awk '/Mem:/{print $2}') GiB RAM, Linux $(uname -r)"
  echo "- $(go version | cut -d' ' -f3-)"
  echo "- Job: the reference job in \`bench/spec.yaml\` over \`bench/gen\` output: $ROWS rows, $size bytes of CSV ($(stat -c %s "$csv.gz") gzipped)."
  echo "  Input in the page cache, output to $OUT_DIR; median wall time of $RUNS runs; RSS is the maximum seen."
  echo "- MB/s is uncompressed CSV bytes divided by wall time, for every row."
  echo "- Check: $status."
  echo
  echo "| run | MB/s | peak RSS (MB) | rows out | sum of amount_cents | seconds |"
  echo "|---|---:|---:|---:|---:|---:|"
  for r in "${results[@]}"; do
    IFS='|' read -r name mbs rss rows sum sec <<< "$r"
    echo "| $name | $mbs | $rss | $rows | $sum | $sec |"
  done
  echo
  if [ -f bench/NOTES.md ]; then echo; cat bench/NOTES.md; fi
} > "$OUT_MD"
echo "wrote $OUT_MD" >&2
OUT_MD="$OUT_MD" ./bench/lambdas.sh
case "$status" in MISMATCH*) exit 1;; esac
