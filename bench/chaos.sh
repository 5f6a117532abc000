#!/usr/bin/env bash
# make chaos: every fault class against the offline stack with 20 uploads
# each, then all at once, plus the stream and the killed load, and
# RELIABILITY.md written from the figures the tests report.
# CHAOS_SEED=N replays a run's fault plans.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT_MD=${OUT_MD:-RELIABILITY.md}
report=$(mktemp)
trap 'rm -f "$report"' EXIT
seed_args=()
[ -n "${CHAOS_SEED:-}" ] && seed_args=(-chaos.seed="$CHAOS_SEED")
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
go test ./e2e -run 'Chaos' -count=1 -v -timeout 60m -args -chaos.full -chaos.report="$report" "${seed_args[@]}" | tee "$report.log" | grep -E '^(--- |ok|FAIL|    e2e_chaos)' || true
grep -q '^ok' "$report.log" || { echo "chaos tests failed; see $report.log" >&2; exit 1; }
python3 - "$report" "$OUT_MD" "$started" "$(nproc)" "$(go version | cut -d' ' -f3)" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
out, started, cores, gov = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
base = next((r["seconds"] for r in rows if r["round"] == "no faults"), None)
def plan(p):
    if not p: return "none"
    keys = [k for k in p if k not in ("seed", "functions", "delay_ms", "kill_within_ms", "function_timeout_ms") and p[k]]
    s = ", ".join(f"{k} {p[k]}" for k in keys)
    if p.get("delay_ms"): s += f" (delay {p['delay_ms']} ms, function timeout {p.get('function_timeout_ms', 0)} ms)"
    if p.get("functions"): s += f" (functions: {', '.join(p['functions'])})"
    return s
with open(out, "w") as f:
    f.write("# Reliability\n\n")
    f.write(f"Written by `make chaos` (bench/chaos.sh) on {started[:10]}, {cores} cores, {gov}, against the offline stack\n")
    f.write("(moto plus the local Lambda service running the real `bootstrap` binaries). Each round's faults are injected by\n")
    f.write("the stack into the functions' own requests and invocations (`internal/offline/chaos.go`); the tests' uploads and\n")
    f.write("checks go through untouched. Every record sent is checked: each good row must be in the output (or the DynamoDB\n")
    f.write("sink table) exactly once, each bad row in the quarantine, each run's manifest and metrics item must agree, and\n")
    f.write("the stream's window aggregates must equal a reference computed by the test.\n\n")
    seeds = sorted({(r.get("plan") or {}).get("seed") for r in rows if r.get("plan")})
    f.write(f"Seeds: {', '.join(str(s) for s in seeds)} (replay with `CHAOS_SEED=N make chaos`).\n\n")
    f.write("| round | faults (share of requests or invocations) | uploads | records sent | verified | duplicates | lost | executions | failed, then retried | seconds | vs no faults | injected |\n")
    f.write("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
    for r in rows:
        extra = f"{r['seconds']/base:.2f}×" if base and r["uploads"] and r["round"] != "no faults" and r["uploads"] == 20 else "—"
        inj = ", ".join(f"{k} {v}" for k, v in sorted((r.get("injected") or {}).items())) or "—"
        secs = f"{r['seconds']:.1f}" if r["seconds"] else "—"
        pl = plan(r.get("plan")) if r.get("plan") or r["round"] != "load killed halfway" else "the load process killed 40 ms into its first invocation"
        f.write(f"| {r['round']} | {pl} | {r['uploads']} | {r['records_sent']} | {r['records_verified']} | {r['duplicates']} | {r['lost']} | {r['executions']} | {r['failed_then_retried']} | {secs} | {extra} | {inj} |\n")
    tot = sum(r["records_sent"] for r in rows)
    f.write(f"\nIn all: {tot} records sent, {sum(r['records_verified'] for r in rows)} verified, {sum(r['duplicates'] for r in rows)} duplicates, {sum(r['lost'] for r in rows)} lost.\n")
    f.write("\n\"vs no faults\" is the round's wall time over the fault-free round's, for the rounds of 20 uploads. The rounds run\n")
    f.write("one after another on one stack, and moto slows as its data grows, so later rounds' ratios include some of that.\n")
    f.write("Every execution must succeed, except in the delay round and the all-at-once round: with a 2.5 s function timeout\n")
    f.write("and requests stalled for 3 s, a task can time out on every attempt, so an execution may end in a recorded failure\n")
    f.write("(the metrics table has it); the test then starts the same input again, which must succeed. \"failed, then\n")
    f.write("retried\" counts those. Whatever the path, each record must end up once in the output or the quarantine.\n")
    f.write("\nThe code each fault class exercises, and the test that fails without it, are listed in\n[docs/reliability.md](docs/reliability.md).\n")
PY
echo "wrote $OUT_MD" >&2
