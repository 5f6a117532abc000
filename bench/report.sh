# The report half of bench/run.sh, sourced by it: the check of every
# output's rows and sum, the targets, and the Markdown of run.sh's sections
# of BENCHMARKS.md. It reads run.sh's variables and result arrays.

# ratio A B: A / B with two decimals ("-" when B is missing or zero).
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }

# check_outputs sets status: every run at ROWS rows must have the rows and
# sum of sluice's first run, every run at BIG_ROWS those of the first big run.
check_outputs() {
  local ref="s|CSV → JSONL|1" bigref="" id
  status="all outputs agree: ${NROWS[$ref]} rows, sum of amount_cents ${SUM[$ref]}"
  for id in "${ORDER[@]}"; do
    [ "$id" = encjson ] && continue
    local want=$ref
    if [[ $id == big* ]]; then
      if [ -z "$bigref" ]; then
        bigref=$id
        status="$status; at $(human_rows "$BIG_ROWS") rows ${NROWS[$id]} rows, sum ${SUM[$id]}"
      fi
      want=$bigref
    fi
    if [ "${NROWS[$id]}" != "${NROWS[$want]}" ] || [ "${SUM[$id]}" != "${SUM[$want]}" ]; then
      status="MISMATCH: ${NAME[$id]} has ${NROWS[$id]} rows, sum ${SUM[$id]}; ${NAME[$want]} has ${NROWS[$want]}, ${SUM[$want]}"
      return
    fi
  done
}

TARGETS=()
# judge LABEL MEASURED_TEXT VALUE OP LIMIT UNIT: one row of the targets
# table; OP is ge (at least), le (at most) or lt (under); the miss is in
# UNIT and in % of the limit.
judge() {
  local label=$1 text=$2 v=$3 op=$4 limit=$5 unit=$6 verdict
  if [ -z "$v" ] || [ "$v" = - ]; then
    TARGETS+=("| $label | not measured in this run | — | — |")
    return
  fi
  verdict=$(awk -v v="$v" -v l="$limit" -v op="$op" -v u="$unit" 'BEGIN {
    met = (op == "ge") ? (v >= l) : (op == "le") ? (v <= l) : (v < l)
    if (met) { print "yes | —"; exit }
    d = (op == "ge") ? l - v : v - l
    f = (u == "×") ? "%.2f" : "%.0f"
    printf "no | %s by " f "%s (%.0f %% of the target)\n", (op == "ge") ? "short" : "over", d, u, d / l * 100 }')
  TARGETS+=("| $label | $text | $verdict |")
}

# max_rss REGEX: the largest peak RSS among runs whose id matches REGEX,
# and which run it was.
max_rss() {
  local id best="" name=""
  for id in "${ORDER[@]}"; do
    [[ $id =~ $1 ]] || continue
    if [ -z "$best" ] || [ "${RSS[$id]}" -gt "$best" ]; then best=${RSS[$id]} name=${NAME[$id]}; fi
  done
  echo "$best|$name"
}

# warm_ratio ID: sluice's seconds against DuckDB's without its start-up,
# as a ratio of MB/s.
warm_ratio() {
  awk -v s="${SEC["s|$1"]}" -v d="${SEC["d|$1"]}" -v z="$DUCK_START" 'BEGIN {printf "%.2f", (d - z) / s}'
}

duck_target() { # JOB CORES LIMIT
  local s="s|$1|$2" d="d|$1|$2" r
  r=$(ratio "${MBS[$s]:-}" "${MBS[$d]:-}")
  judge "$1, $2 core$([ "$2" = 1 ] || echo s): ≥ $3× DuckDB ($2 thread$([ "$2" = 1 ] || echo s))" \
    "$r× (sluice ${MBS[$s]:-} MB/s, DuckDB ${MBS[$d]:-} MB/s; $(warm_ratio "$1|$2")× without DuckDB's start-up)" "$r" ge "$3" "×"
}

rss_target() { # LABEL REGEX LIMIT
  local m
  m=$(max_rss "$2")
  judge "$1: peak RSS < $3 MB" "${m%%|*} MB (the largest: ${m#*|})" "${m%%|*}" lt "$3" " MB"
}

targets() {
  local j1="s|JSONL → JSONL|1" j2="s|JSONL → JSONL|2" per r
  duck_target "CSV → JSONL" 1 2.0
  duck_target "CSV → JSONL" 2 2.0
  judge "JSON Lines in, 1 core: ≥ 150 MB/s" "${MBS[$j1]} MB/s" "${MBS[$j1]}" ge 150 " MB/s"
  per=$(awk -v m="${MBS[$j2]}" 'BEGIN {printf "%.0f", m / 2}')
  judge "JSON Lines in, 2 cores: ≥ 150 MB/s per core" "$per MB/s per core (${MBS[$j2]} MB/s)" "$per" ge 150 " MB/s"
  r=$(ratio "${MBS[$j1]}" "${MBS[encjson]}")
  judge "JSON Lines in, 1 core: about 2.3× encoding/json into a struct (judged as ≥ 2.3×)" \
    "$r× (sluice ${MBS[$j1]} MB/s, encoding/json ${MBS[encjson]} MB/s)" "$r" ge 2.3 "×"
  duck_target "CSV → Parquet (zstd)" 1 1.2
  duck_target "CSV → Parquet (zstd)" 2 1.2
  local sizes
  sizes="$(human_rows "$ROWS") rows"
  [ "$BIG_ROWS" -gt 0 ] && sizes="$sizes and $(human_rows "$BIG_ROWS")"
  rss_target "Parquet output, $sizes" '^(s\|CSV → Parquet|big\|parquet\|)' 128
  rss_target "JSONL and CSV output, $(human_rows "$ROWS") rows" '^(s\|.*→ (JSONL|CSV)\||gzip$|zstd$)' 64
  if [ "$BIG_ROWS" -gt 0 ]; then
    rss_target "JSONL and CSV output, $(human_rows "$BIG_ROWS") rows" '^big\|(jsonl|csv)\|' 64
  else
    judge "JSONL and CSV output, BIG_ROWS rows: peak RSS < 64 MB" "" "" lt 64 " MB"
  fi
  for z in gzip zstd; do
    r=$(ratio "${MBS["s|CSV → JSONL|1"]}" "${MBS[$z]}")
    judge "$z input, 1 core: within 1.5× of plain (plain MB/s ÷ $z MB/s)" "$r× (${MBS[$z]} MB/s against ${MBS["s|CSV → JSONL|1"]})" "$r" le 1.5 "×"
  done
  local agree=yes
  case "$status" in MISMATCH*) agree=no ;; esac
  TARGETS+=("| every output has the same rows and sum of amount_cents | $status | $agree | — |")
  TARGETS+=("| outputs identical to a base revision (golden comparison) | $golden | $golden_met | — |")
}

machine() {
  local cpu
  cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
  echo "$(nproc) cores ($cpu), $(free -g | awk '/Mem:/ {print $2}') GiB RAM, Linux $(uname -r)"
}

# tools: the versions of the measured programs.
tools() {
  printf '%s; DuckDB %s (@duckdb/node-api %s on Node %s)' "$(go version | cut -d' ' -f3)" "$("${duck[@]}" version)" \
    "$(node -p 'require("./bench/duck/node_modules/@duckdb/node-api/package.json").version')" "$(node --version)"
  if command -v mlr > /dev/null; then printf '; Miller %s' "$(mlr --version | awk '{print $2}')"; else printf '; Miller not installed'; fi
}

report_header() {
  echo "# Benchmarks"
  echo
  echo "Written by \`make bench\` (\`bench/run.sh\`) on $(date -u +%Y-%m-%d). Every figure in this section and the four after it"
  echo "comes from that one run on this machine; do not edit them by hand. The sections after those are written by their own"
  echo "scripts, on the dates they give."
  echo
  echo "- Machine: $(machine); $(tools)."
  echo "- Job: the reference job in \`bench/spec.yaml\` (\`bench/spec-*.yaml\` variants change only the source or sink format) over"
  echo "  \`bench/gen\` output: $ROWS rows, $size bytes of CSV ($(stat -c %s "$csv.gz") gzipped, $(stat -c %s "$csv.zst") zstd), $jsize bytes as JSON Lines (the same rows)."
  echo "  DuckDB runs the same job in SQL (\`bench/duck/job.mjs\`): \`read_csv(..., all_varchar=true)\` or \`read_json\` with VARCHAR"
  echo "  columns, \`TRY_CAST\`, \`COPY ... TO\` (Parquet with zstd, as sluice's default)."
  printf '%s' "- Input in the page cache, output to $OUT_DIR; median wall time of $RUNS runs"
  [ "$BIG_ROWS" -gt 0 ] && printf '%s' " (the $(human_rows "$BIG_ROWS")-row runs: one)"
  echo "; peak RSS is the largest seen."
  echo "  DuckDB's figures are those of the Node process that hosts it: its wall times include starting Node, loading"
  echo "  DuckDB and opening a database, $DUCK_START s (median of $RUNS), and the last column of the next table leaves that out."
  echo "- 1 core: \`taskset -c 0\` with \`--parallel 1\` against DuckDB with \`threads=1\` under the same \`taskset\`; 2 cores: \`--parallel 2\`"
  echo "  against \`threads=2\`."
  echo "- MB/s: bytes of the uncompressed input (the CSV; for JSON Lines input, the JSON Lines) ÷ wall seconds."
  echo "- Check: $status."
  echo
}

report_duck() {
  local p job t s d
  echo "## Against DuckDB"
  echo
  echo "| job | cores | sluice MB/s | sluice peak RSS (MB) | DuckDB MB/s | DuckDB peak RSS (MB) | sluice ÷ DuckDB | the same, DuckDB's start-up left out |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  for p in "${PAIRS[@]}"; do
    job=${p%|*} t=${p##*|} s="s|$p" d="d|$p"
    echo "| $job | $t | ${MBS[$s]} | ${RSS[$s]} | ${MBS[$d]} | ${RSS[$d]} | $(ratio "${MBS[$s]}" "${MBS[$d]}")× | $(warm_ratio "$p")× |"
  done
  echo
}

report_other() {
  local id note plain="s|CSV → JSONL|1"
  echo "## Other runs"
  echo
  echo "| run | MB/s | peak RSS (MB) | note |"
  echo "|---|---:|---:|---|"
  for id in "${ORDER[@]}"; do
    case $id in
      s\|* | d\|*) continue ;;
      gzip | zstd) note="plain CSV at 1 core ÷ this: $(ratio "${MBS[$plain]}" "${MBS[$id]}")×" ;;
      encjson) note="\`bench/jsondecode\`; sluice's JSONL → JSONL at 1 core ÷ this: $(ratio "${MBS["s|JSONL → JSONL|1"]}" "${MBS[$id]}")×" ;;
      big*) note="one run; $(stat -c %s "$DATA/orders-$BIG_ROWS.csv") bytes of CSV" ;;
      *) note="" ;;
    esac
    echo "| ${NAME[$id]} | ${MBS[$id]} | ${RSS[$id]} | $note |"
  done
  echo
}

report_checked() {
  local id
  echo "## Outputs checked"
  echo
  echo "Rows and sum of \`amount_cents\` of each run's output (the last of its runs): JSON Lines summed by \`bench/verify\`,"
  echo "CSV and Parquet read back with DuckDB."
  echo
  echo "| run | rows out | sum of amount_cents | seconds (median) |"
  echo "|---|---:|---:|---:|"
  for id in "${ORDER[@]}"; do
    echo "| ${NAME[$id]} | ${NROWS[$id]} | ${SUM[$id]} | ${SEC[$id]} |"
  done
  echo
}

report_targets() {
  echo "## Against the targets"
  echo
  echo "Each target is judged on the figures above, from this one run."
  echo
  echo "| target | measured | met | missed by |"
  echo "|---|---|---|---|"
  printf '%s\n' "${TARGETS[@]}"
  echo
}

report() {
  targets
  report_header
  report_duck
  report_other
  report_checked
  report_targets
}
