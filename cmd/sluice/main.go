// Command sluice runs, checks and inspects sluice pipelines.
//
//	sluice run --spec FILE --input PATH --output DIR|s3://B/P [--parallel N] [--endpoint URL] [--json] [--report] [--show-values]
//	sluice init --from FILE [--name N] [--out spec.yaml] [--force]
//	sluice report RUN_DIR|MANIFEST|s3://B/P [--html out.html] [--show-values]
//	sluice validate SPEC
//	sluice test [-v] [--junit FILE] SPEC...
//	sluice lint [--template template.yaml] [SPEC...]
//	sluice windows --table T [--since T] [--key K] [--shards] [--json]
//	sluice table list|history|show --output DIR [--table NS.NAME] [--json]
//	sluice table list|history|show --catalog glue --warehouse s3://B/P [--endpoint URL] [--table NS.NAME] [--json]
//	sluice version
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

func main() {
	// The iceberg library's dependencies build tens of MB at package
	// init that are garbage at once; hand those pages back before the
	// run, so a run's peak memory is its own.
	debug.FreeOSMemory()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `sluice: serverless ETL pipelines, run anywhere

Usage:
  sluice run --spec FILE --input PATH --output DIR|s3://B/P [--parallel N] [--endpoint URL] [--json]
             [--report | --report-html F] [--show-values]
  sluice run                      run the bundled orders example into ./out/orders
  sluice init --from FILE|s3://B/K|- [--name N] [--out spec.yaml|-] [--force] [--tolerance 0.05]
                                  write a commented spec from a sample of an input: types, required, trim, suggestions
  sluice report RUN_DIR|MANIFEST|s3://B/P [--html out.html] [--show-values] [--endpoint URL]
                                  a run's report: a self-contained HTML page and its JSON twin
                                  (the JSON on stdout without --html); values only with --show-values
  sluice validate SPEC            check a spec without reading data
  sluice validate [--output DIR|s3://B/P | --catalog glue --warehouse s3://B/P] [--endpoint URL] SPEC
                                  and the changes the next run makes to the sink's table, or refuses
  sluice test [-v] [--junit FILE] SPEC...
                                  run each spec's test cases in memory (its tests section, SPEC.test.yaml)
  sluice lint [--template F] [SPEC...]
                                  check template.yaml, its state machines and specs
  sluice local up [--addr 127.0.0.1:4566]
                                  run the offline stack (moto + local Lambda) in the foreground
  sluice local deploy [--endpoint URL]
                                  create the template's resources on a local AWS endpoint
  sluice invoke FUNCTION --event FILE
                                  run a function's real bootstrap once (sam local invoke, no Docker)
  sluice windows --table T [--endpoint URL] [--since 1h|RFC3339] [--key K] [--shards] [--json]
                                  list closed stream windows (merged across shards), or the shards' checkpoints
  sluice table list|history|show --output DIR [--table NS.NAME] [--json]
  sluice table list|history|show --catalog glue --warehouse s3://B/P [--endpoint URL] [--table NS.NAME] [--json]
                                  an iceberg sink's tables: each snapshot's run, source and counts; schema and rows per partition
  sluice compact --spec FILE --output DIR|s3://B/P [--endpoint URL] [--json]
                                  merge each partition's small files into files of sink.compact.target_bytes
  sluice version

Run 'sluice COMMAND -h' for a command's flags.
`

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return cmdRun(ctx, args[1:], stdout, stderr)
	case "init":
		return cmdInit(ctx, args[1:], stdout, stderr)
	case "report":
		return cmdReport(ctx, args[1:], stdout, stderr)
	case "validate":
		return cmdValidate(ctx, args[1:], stdout, stderr)
	case "test":
		return cmdTest(ctx, args[1:], stdout, stderr)
	case "lint":
		return cmdLint(args[1:], stdout, stderr)
	case "local":
		return cmdLocal(ctx, args[1:], stdout, stderr)
	case "invoke":
		return cmdInvoke(ctx, args[1:], stdout, stderr)
	case "windows":
		return cmdWindows(ctx, args[1:], stdout, stderr)
	case "table":
		return cmdTable(ctx, args[1:], stdout, stderr)
	case "compact":
		return cmdCompact(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, versionString())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "sluice: unknown command %q\n\n%s", args[0], usage)
	return 2
}
