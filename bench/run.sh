#!/usr/bin/env bash
# The reference-job benchmark: sluice against DuckDB on the same job, in one
# run on this machine. It generates the input (CSV, its gzip and zstd copies,
# and the same rows as JSON Lines), installs DuckDB's Node API into
# bench/duck/node_modules when missing, and runs, RUNS times each:
#   CSV -> JSONL, JSONL -> JSONL, CSV -> Parquet (zstd) at 1 and 2 cores,
#   CSV -> CSV at 1 core, each with DuckDB's run of the same job beside it
#   (bench/duck/job.mjs; 1 core: both under `taskset -c 0`, --parallel 1
#   against threads=1; 2 cores: --parallel 2 against threads=2);
#   gzip and zstd CSV input at 1 core; Go's encoding/json decoding the
#   JSON Lines into a struct at 1 core; Miller where installed;
#   and, once each, BIG_ROWS rows into JSONL, CSV and Parquet (memory).
# It checks that every output has the same rows and sum of amount_cents
# (Parquet and CSV read back with DuckDB), and rewrites its sections of
# BENCHMARKS.md (the other scripts' sections are kept). With BASE_REF set
# it also runs bench/golden.sh BASE_REF and reports it in the targets.
#
#   ./bench/run.sh                                   # 5M rows, 20M for memory
#   ROWS=200000 RUNS=1 BIG_ROWS=0 ./bench/run.sh     # a quick check
#   BASE_REF=main ./bench/run.sh                     # plus the golden comparison
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-5000000}
BIG_ROWS=${BIG_ROWS:-20000000}
RUNS=${RUNS:-3}
DATA=${BENCH_DIR:-.bench}
BASE_REF=${BASE_REF:-}
# Output goes to memory (tmpfs) when the machine has it, so the figures
# measure the tools, not the disk's writeback; every tool writes there.
if [ -z "${OUT_DIR:-}" ]; then
  if [ -d /dev/shm ] && [ -w /dev/shm ]; then OUT_DIR=/dev/shm/sluice-bench-out; else OUT_DIR=$DATA/out; fi
fi
OUT_MD=${OUT_MD:-BENCHMARKS.md}
mkdir -p "$DATA"
trap 'rm -rf "$OUT_DIR"' EXIT

# --- tools -------------------------------------------------------------------
[ -x bin/sluice ] || make build
# The runs use a copy of the binary, as an installed one is. The linker's
# own output file can sit in the page cache in 2 MiB folios that the
# process then maps whole (FilePmdMapped in /proc/PID/smaps_rollup), which
# adds about 12 MB of the binary's shared, clean pages to the peak RSS of
# the same code; a copied file does not.
cp bin/sluice "$DATA/sluice"
sluice="$DATA/sluice"
source bench/lib.sh
source bench/report.sh
go build -o "$DATA/verify" ./bench/verify
go build -o "$DATA/jsondecode" ./bench/jsondecode
duck_install
duck=(node bench/duck/job.mjs)
one=(taskset -c 0)

# --- data and specs ----------------------------------------------------------
gen_data "$ROWS"
csv="$DATA/orders-$ROWS.csv" jsonl="$DATA/orders-$ROWS.jsonl"
size=$(stat -c %s "$csv") jsize=$(stat -c %s "$jsonl")
spec=bench/spec.yaml
spec_parquet=$(variant "$spec" parquet "format: jsonl" "format: parquet" "$DATA")
spec_csv=$(variant "$spec" csv "format: jsonl" "format: csv" "$DATA")
spec_jsonl=$(variant "$spec" jsonl-in "format: csv" "format: jsonl" "$DATA")

# --- measuring ---------------------------------------------------------------
declare -A NAME MBS RSS SEC NROWS SUM
ORDER=()
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# measure CMD...: runs CMD RUNS times under /usr/bin/time into an empty
# OUT_DIR; prints the median wall seconds and the largest peak RSS in KB.
measure() {
  local secs=() rss=0 t0 t1 m
  for _ in $(seq "$RUNS"); do
    rm -rf "$OUT_DIR" && mkdir -p "$OUT_DIR"
    t0=$(date +%s%N)
    /usr/bin/time -f "%M" -o "$DATA/time.txt" "$@" > /dev/null
    t1=$(date +%s%N)
    m=$(tail -n 1 "$DATA/time.txt")
    secs+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) / 1e9}')")
    [ "$m" -gt "$rss" ] && rss=$m
  done
  echo "$(printf '%s\n' "${secs[@]}" | median) $rss"
}

# count_out FORMAT: rows and sum of amount_cents of the data files in OUT_DIR.
count_out() {
  local files
  [ "$1" = none ] && { echo "- -"; return; }
  mapfile -t files < <(find "$OUT_DIR" -type f -name "*.$1" -not -path '*/rejects/*' | sort)
  [ ${#files[@]} -gt 0 ] || { echo "0 0"; return; }
  case $1 in
    jsonl) "$DATA/verify" -field amount_cents "${files[@]}" ;;
    *) "${duck[@]}" count --format "$1" --sum amount_cents "${files[@]}" ;;
  esac
}

# bench ID NAME BYTES FORMAT CMD...: measures CMD and checks its output.
bench() {
  local id=$1 name=$2 bytes=$3 fmt=$4 sec rss rows sum
  shift 4
  read -r sec rss < <(measure "$@")
  read -r rows sum < <(count_out "$fmt")
  NAME[$id]=$name SEC[$id]=$sec RSS[$id]=$((rss / 1024)) NROWS[$id]=$rows SUM[$id]=$sum
  MBS[$id]=$(awk -v b="$bytes" -v s="$sec" 'BEGIN {printf "%.0f", b / 1e6 / s}')
  ORDER+=("$id")
  printf '%-52s %6s MB/s %5s MB RSS %6ss  %s rows, sum %s\n' "$name" "${MBS[$id]}" "${RSS[$id]}" "$sec" "$rows" "$sum" >&2
}

# pair JOB CORES SPEC INPUT BYTES FROM TO: sluice and DuckDB on one job.
PAIRS=()
pair() {
  local job=$1 t=$2 spec=$3 in=$4 bytes=$5 from=$6 to=$7 pin=()
  [ "$t" = 1 ] && pin=("${one[@]}")
  bench "s|$job|$t" "sluice $job, $t core$([ "$t" = 1 ] || echo s)" "$bytes" "$to" \
    "${pin[@]}" "$sluice" run --quiet --spec "$spec" --input "$in" --output "$OUT_DIR" --parallel "$t"
  bench "d|$job|$t" "DuckDB $job, $t thread$([ "$t" = 1 ] || echo s)" "$bytes" "$to" \
    "${pin[@]}" "${duck[@]}" run --input "$in" --from "$from" --to "$to" --output "$OUT_DIR/duck.$to" --threads "$t"
  PAIRS+=("$job|$t")
  echo "  sluice ÷ DuckDB: $(ratio "${MBS["s|$job|$t"]}" "${MBS["d|$job|$t"]}")×" >&2
}

# --- the runs ----------------------------------------------------------------
# DuckDB's start-up alone (Node, the module, an empty database), which its
# wall times include.
read -r DUCK_START _ < <(measure "${duck[@]}" version)
# Every input is read once before its runs, so that each run, the first
# included, finds it in the page cache (a 20M-row run is measured once).
warm() { cat "$@" > /dev/null; }
warm "$csv" "$csv.gz" "$csv.zst" "$jsonl"
for t in 1 2; do pair "CSV → JSONL" "$t" "$spec" "$csv" "$size" csv jsonl; done
for t in 1 2; do pair "JSONL → JSONL" "$t" "$spec_jsonl" "$jsonl" "$jsize" jsonl jsonl; done
for t in 1 2; do pair "CSV → Parquet (zstd)" "$t" "$spec_parquet" "$csv" "$size" csv parquet; done
pair "CSV → CSV" 1 "$spec_csv" "$csv" "$size" csv csv

sl1=("${one[@]}" "$sluice" run --quiet --spec "$spec" --output "$OUT_DIR" --parallel 1)
bench gzip "sluice CSV (gzip) → JSONL, 1 core" "$size" jsonl "${sl1[@]}" --input "$csv.gz"
bench zstd "sluice CSV (zstd) → JSONL, 1 core" "$size" jsonl "${sl1[@]}" --input "$csv.zst"
bench encjson "Go encoding/json into a struct, 1 core" "$jsize" none "${one[@]}" "$DATA/jsondecode" "$jsonl"
if command -v mlr > /dev/null; then
  bench mlr "Miller $(mlr --version | awk '{print $2}') CSV → JSONL" "$size" jsonl sh -c "mlr --icsv --ojsonl rename user_id,customer_id then filter '\$email =~ \"@\" && is_numeric(\$amount)' then put '\$email = tolower(\$email); \$amount_cents = round(\$amount * 100)' $csv > $OUT_DIR/mlr.jsonl"
fi

if [ "$BIG_ROWS" -gt 0 ]; then
  gen_data "$BIG_ROWS" csv
  big="$DATA/orders-$BIG_ROWS.csv" bsize=$(stat -c %s "$DATA/orders-$BIG_ROWS.csv")
  warm "$big"
  for sink in "jsonl|JSONL|$spec" "csv|CSV|$spec_csv" "parquet|Parquet (zstd)|$spec_parquet"; do
    IFS='|' read -r ext label sp <<< "$sink"
    RUNS=1 bench "big|$ext|1" "sluice $(human_rows "$BIG_ROWS") rows CSV → $label, 1 core" "$bsize" "$ext" \
      "${one[@]}" "$sluice" run --quiet --spec "$sp" --input "$big" --output "$OUT_DIR" --parallel 1
    RUNS=1 bench "big|$ext|2" "sluice $(human_rows "$BIG_ROWS") rows CSV → $label, 2 cores" "$bsize" "$ext" \
      "$sluice" run --quiet --spec "$sp" --input "$big" --output "$OUT_DIR" --parallel 2
  done
fi
rm -rf "$OUT_DIR"

golden="not run: make bench BASE_REF=<revision> runs it (or make bench-golden)"
golden_met="—"
if [ -n "$BASE_REF" ]; then
  if ./bench/golden.sh "$BASE_REF" > "$DATA/golden.txt" 2>&1; then golden_met=yes; else golden_met=no; fi
  golden="$(tail -n 1 "$DATA/golden.txt") (\`bench/golden.sh $BASE_REF\`)"
  if [ "$golden_met" = no ]; then tail -n 30 "$DATA/golden.txt" >&2; echo "the golden comparison's output: $DATA/golden.txt" >&2; fi
fi

check_outputs
report > "$DATA/section.md"
python3 bench/splice.py "$OUT_MD" "$DATA/section.md" bench/NOTES.md
cat "$DATA/section.md"
echo "wrote $OUT_MD" >&2
case "$status" in MISMATCH*) exit 1 ;; esac
[ "$golden_met" != no ] || exit 1
