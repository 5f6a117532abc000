#!/usr/bin/env bash
# The iceberg sink's commit cost on the local catalog (BenchmarkCommit in
# shared/adapter/table/icebergtable) and on Glue-on-moto with an s3://
# warehouse (BenchmarkCommitGlue; moto_server required): ms per run
# commit, averaged over the first 20 and the first 200 commits into one
# table, since each commit reads the history and the current snapshot's
# manifests; and the stream path's records/s and commit rate
# (BenchmarkIcebergStream). Rewrites the "## Iceberg commits" section of
# BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT_MD=${OUT_MD:-BENCHMARKS.md}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for n in 20 200; do
  SLUICE_REQUIRE_MOTO=1 go test -run '^$' -bench '^BenchmarkCommit(Glue)?$' -benchtime "${n}x" -count "${COUNT:-3}" ./shared/adapter/table/icebergtable > "$tmp/$n.txt"
done
go test -run '^$' -bench '^BenchmarkIcebergStream$' -benchtime 600x -count "${COUNT:-3}" ./shared/pipeline/stream > "$tmp/stream.txt"
# median of metric $2 of the stream benchmark
stream_median() {
  awk -v m="$2" '$1 ~ /^BenchmarkIcebergStream/ {for (i = 1; i < NF; i++) if ($(i+1) == m) print $i}' "$1" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'
}
# median of the ms/commit figures of one benchmark ($2: BenchmarkCommit or BenchmarkCommitGlue)
median() {
  awk -v b="$2" '$1 ~ "^" b "(-[0-9]+)?$" {for (i = 1; i < NF; i++) if ($(i+1) == "ms/commit") print $i}' "$1" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'
}

section=$(mktemp)
{
  echo "## Iceberg commits"
  echo
  echo "Written by \`bench/iceberg.sh\` on $(date -u +%Y-%m-%d): \`BenchmarkCommit\` on this machine, $(go env GOVERSION), median of ${COUNT:-3} runs."
  echo "One commit is a whole run's: load the table from the SQLite catalog, look for the run id in the history,"
  echo "register one data file (AddFiles reads its Parquet footer), write the manifest, manifest list and metadata"
  echo "file, and swap the catalog's metadata pointer. The table keeps every snapshot, so later commits cost more."
  echo
  echo "On Glue the same commit goes through moto_server (the offline stack's launcher) for Glue and S3: an HTTP"
  echo "round trip per call, on this machine, with none of AWS's latency."
  echo
  echo "| commits into one table | local catalog, ms per commit (mean) | Glue on moto, ms per commit (mean) |"
  echo "|---:|---:|---:|"
  echo "| first 20 | $(median "$tmp/20.txt" BenchmarkCommit) | $(median "$tmp/20.txt" BenchmarkCommitGlue) |"
  echo "| first 200 | $(median "$tmp/200.txt" BenchmarkCommit) | $(median "$tmp/200.txt" BenchmarkCommitGlue) |"
  echo
  echo "**The stream path** (\`BenchmarkIcebergStream\`): one shard, 500-record batches of ~120-byte JSON clicks at a simulated"
  echo "1,000 records a second (the clock moves 0.5 s a batch), the default policy (\`commit_interval: 1m\`, \`commit_files: 100\`),"
  echo "the local catalog, 600 batches (5 simulated minutes). Each batch writes one data file, so \`commit_files\` triggers"
  echo "first: a commit every 100 files, 50 simulated seconds."
  echo
  echo "| records/s through Apply, commits included | commits per simulated minute |"
  echo "|---:|---:|"
  echo "| $(stream_median "$tmp/stream.txt" records/s | awk '{printf "%d", $1}') | $(stream_median "$tmp/stream.txt" commits/min) |"
  echo
} > "$section"

python3 - "$OUT_MD" "$section" <<'PY'
import re, sys
md, sec = open(sys.argv[1]).read(), open(sys.argv[2]).read()
m = re.search(r'^## Iceberg commits\n.*?(?=^## |\Z)', md, flags=re.S | re.M)
md = md[:m.start()] + sec + md[m.end():] if m else md.rstrip('\n') + '\n\n' + sec
open(sys.argv[1], 'w').write(md)
PY
rm -f "$section"
echo "wrote the iceberg section of $OUT_MD" >&2
