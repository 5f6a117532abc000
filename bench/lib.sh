# Shared by bench/run.sh and bench/golden.sh (sourced; run from the repo
# root with DATA set): the benchmark input and the spec variants.

# gen_data N [KIND...]: DATA/orders-N.csv, its gzip and zstd copies and the
# same rows as JSON Lines (KINDs csv, csv.gz, csv.zst, jsonl; all by
# default), each written once by bench/gen (to a temporary name first, so a
# stopped run leaves none half-written).
gen_data() {
  local base="$DATA/orders-$1" f args kinds=("${@:2}")
  [ ${#kinds[@]} -gt 0 ] || kinds=(csv csv.gz csv.zst jsonl)
  go build -o "$DATA/gen" ./bench/gen
  for f in "${kinds[@]}"; do
    [ -s "$base.$f" ] && continue
    case $f in csv) args=() ;; csv.gz) args=(-gzip) ;; csv.zst) args=(-zstd) ;; jsonl) args=(-format jsonl) ;; esac
    echo "generating $base.$f" >&2
    "$DATA/gen" -rows "$1" "${args[@]}" -o "$base.$f.tmp"
    mv "$base.$f.tmp" "$base.$f"
  done
}

# variant SPEC NAME OLD NEW DIR: SPEC with the one line "  OLD" changed to
# "  NEW", written to DIR/spec-NAME.yaml (printed), so a variant is the same
# job with another source or sink format.
variant() {
  local out="$5/spec-$2.yaml"
  sed "s/^  $3\$/  $4/" "$1" > "$out"
  [ "$(diff "$1" "$out" | grep -c '^>')" = 1 ] || { echo "spec variant $2 of $1: expected one changed line" >&2; return 1; }
  echo "$out"
}

# duck_install: DuckDB's Node API for bench/duck/job.mjs, once.
duck_install() {
  command -v node > /dev/null || { echo "node (with npm) is required: bench/duck/job.mjs runs DuckDB" >&2; return 1; }
  [ -d bench/duck/node_modules/@duckdb/node-api ] || (cd bench/duck && npm install --no-audit --no-fund >&2)
}

# human_rows N: 5000000 as 5M, 200000 as 200k.
human_rows() { awk -v n="$1" 'BEGIN { if (n % 1000000 == 0) printf "%dM", n / 1000000; else if (n % 1000 == 0) printf "%dk", n / 1000; else print n }'; }
