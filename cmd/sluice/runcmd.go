package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"golang.org/x/term"

	"github.com/sluice-etl/sluice/examples"
	"github.com/sluice-etl/sluice/shared/adapter/sink/dynamosink"
	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/adapter/storage/fileblob"
	_ "github.com/sluice-etl/sluice/shared/adapter/storage/s3blob"
	"github.com/sluice-etl/sluice/shared/adapter/table/gluecatalog"
	"github.com/sluice-etl/sluice/shared/adapter/table/icebergtable"
	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/layout"
	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/core/spec"
	"github.com/sluice-etl/sluice/shared/core/window"
	"github.com/sluice-etl/sluice/shared/pipeline/batch"
	sinkout "github.com/sluice-etl/sluice/shared/pipeline/output"
	"github.com/sluice-etl/sluice/shared/pipeline/report"
	"github.com/sluice-etl/sluice/shared/pipeline/stream"
)

// runCmd is `sluice run`: its flags, then what its steps set up.
type runCmd struct {
	stdout, stderr io.Writer

	specPath, input, output string
	parallel                int
	chunk                   string
	asJSON, quiet           bool
	cpuProfile              string
	aws                     awsFlags
	// withReport writes the run report: into the output, or to
	// reportHTML; showValues puts record values in the profile and the
	// report.
	withReport, showValues bool
	reportHTML             string

	pl     *plan.Plan
	opt    batch.RunOptions
	folder *stream.Folder      // windows folded over the whole file, if any
	spool  io.Closer           // the temporary copy of a piped input, if any
	lake   *icebergtable.Table // the iceberg sink's table, if any
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := &runCmd{stdout: stdout, stderr: stderr}
	return exit(stderr, "sluice run", c.run(ctx, args))
}

func (c *runCmd) run(ctx context.Context, args []string) error {
	if err := c.parse(args); err != nil {
		return err
	}
	defer c.closeSpool()
	if err := c.prepare(ctx); err != nil {
		return err
	}
	if c.lake != nil {
		defer c.lake.Close()
	}
	unlock, err := lockOutput(ctx, c.output, c.stderr)
	if err != nil {
		return err
	}
	defer unlock()
	if c.cpuProfile != "" {
		stop, err := startCPUProfile(c.cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	stopProgress := c.progress()
	m, err := batch.Run(ctx, c.pl, c.opt)
	stopProgress()
	c.closeSpool() // before printing, which a closed stdout may end
	if m == nil {
		return err
	}
	return c.report(ctx, m, err)
}

func (c *runCmd) parse(args []string) error {
	fs := newFlagSet("run", c.stderr)
	fs.StringVar(&c.specPath, "spec", "", "pipeline spec (YAML or JSON)")
	fs.StringVar(&c.input, "input", "", "input file path or URL (file://...)")
	fs.StringVar(&c.output, "output", "", "output directory or URL")
	fs.IntVar(&c.parallel, "parallel", 1, "chunks transformed at once")
	fs.StringVar(&c.chunk, "chunk-size", "", "chunk size, e.g. 32MiB (default: picked from --parallel)")
	fs.BoolVar(&c.asJSON, "json", false, "print the run manifest as JSON on stdout")
	fs.BoolVar(&c.quiet, "quiet", false, "no progress or log lines")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile to this file")
	fs.BoolVar(&c.withReport, "report", false, "write the run report, "+layout.ReportName+" and "+layout.ReportJSONName+", into the output")
	fs.StringVar(&c.reportHTML, "report-html", "", "write the run report page here instead, and its JSON twin beside it (.json)")
	fs.BoolVar(&c.showValues, "show-values", false, "keep record values in the profile (top values of low-cardinality strings) and show them and sample rejected rows in the report (may be personal data)")
	c.aws.add(fs)
	if err := fs.Parse(args); err != nil {
		return errFlags
	}
	if fs.NArg() > 0 {
		return exitf(2, "sluice run: unexpected argument %q\n", fs.Arg(0))
	}
	if c.parallel < 1 {
		return exitf(2, "sluice run: --parallel must be at least 1, not %d\n", c.parallel)
	}
	switch {
	case c.specPath == "" && c.input == "":
		return c.bundledExample()
	case c.specPath == "" || c.input == "" || c.output == "":
		return exitf(2, "sluice run: --spec, --input and --output are required (or none, to run the bundled example)\n")
	}
	return nil
}

// bundledExample is the embedded default: the orders example, into
// out/orders unless --output says otherwise.
func (c *runCmd) bundledExample() error {
	dir, err := examples.WriteOrders(filepath.Join(os.TempDir(), "sluice-example"))
	if err != nil {
		return err
	}
	c.specPath, c.input = filepath.Join(dir, "spec.yaml"), filepath.Join(dir, "orders.csv")
	if c.output == "" {
		c.output = filepath.Join("out", "orders")
	}
	return nil
}

// prepare compiles the spec and opens what the run reads and writes.
func (c *runCmd) prepare(ctx context.Context) error {
	pl, err := plan.FromFile(c.specPath)
	if err != nil {
		return fmt.Errorf("invalid spec:\n%w", err)
	}
	c.pl, c.opt = pl, batch.RunOptions{Parallel: c.parallel, ProfileValues: c.showValues}
	if c.chunk != "" {
		n, err := parseSize(c.chunk)
		if err != nil {
			return exitf(2, "sluice run: --chunk-size: %v\n", err)
		}
		c.opt.ChunkBytes = n
	}
	if err := c.open(ctx); err != nil {
		return err
	}
	return c.fold()
}

// open opens the input and output buckets, and the table or catalog of
// the sink. A Glue registration with a local output is refused before
// anything is read or written.
func (c *runCmd) open(ctx context.Context) error {
	if err := c.checkCatalogOutput(); err != nil {
		return err
	}
	in, key, spool, err := openInput(ctx, c.input, int64(c.pl.Spec.Limits.MaxInputBytes))
	if err != nil {
		return err
	}
	c.spool = spool
	out, prefix, err := c.openOutput(ctx)
	if err != nil {
		return err
	}
	c.opt.Input, c.opt.Key, c.opt.Output, c.opt.OutPrefix = in, key, out, prefix
	switch c.pl.Spec.Sink.Format {
	case codec.SinkIceberg:
		return c.openLake(ctx)
	case codec.SinkDynamoDB:
		return c.openDynamoDB(ctx)
	}
	return c.openCatalog(ctx)
}

// openOutput opens the output: a local folder, or a bucket URL whose
// path is the key prefix the run writes under (s3://bucket/prefix). An
// s3:// output is reached through --endpoint and --region when given.
func (c *runCmd) openOutput(ctx context.Context) (storage.Bucket, string, error) {
	bucketURL, prefix, ok := splitURL(c.output)
	if !ok {
		b, err := storage.Open(ctx, c.output)
		return b, "", err
	}
	b, err := storage.Open(ctx, c.aws.bucketURL(bucketURL))
	return b, strings.Trim(prefix, "/"), err
}

// openDynamoDB opens the dynamodb sink's table.
func (c *runCmd) openDynamoDB(ctx context.Context) error {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("AWS configuration for the dynamodb sink: %w", err)
	}
	c.opt.Table = dynamosink.New(dynamodb.NewFromConfig(cfg), c.pl.Spec.Sink.Table.Name, c.pl.Spec.Sink.Key)
	return nil
}

// registersInGlue reports whether the spec's jsonl, csv or parquet sink
// registers its output in Glue.
func (c *runCmd) registersInGlue() bool {
	f := c.pl.Spec.Sink.Format
	return f != codec.SinkIceberg && f != codec.SinkDynamoDB && c.pl.Spec.Sink.Catalog == spec.CatalogGlue
}

// checkCatalogOutput refuses a Glue registration of an output that is
// not in S3: Athena reads S3 only.
func (c *runCmd) checkCatalogOutput() error {
	if !c.registersInGlue() || strings.HasPrefix(c.output, "s3://") {
		return nil
	}
	return fmt.Errorf("sink.catalog glue registers the output in Glue for Athena, which reads S3 only: --output must be s3://bucket[/prefix], not %s", c.output)
}

// openCatalog registers the output of a jsonl, csv or parquet sink with
// catalog glue in the spec's Glue table, the output prefix being its
// location. The run's rejects go where the table's readers skip them.
func (c *runCmd) openCatalog(ctx context.Context) error {
	if !c.registersInGlue() {
		return nil
	}
	client, err := c.aws.glueClient(ctx)
	if err != nil {
		return err
	}
	cat, err := gluecatalog.New(client, c.pl.Spec, &c.pl.Out, c.output)
	if err != nil {
		return fmt.Errorf("glue registration: %w", err)
	}
	c.opt.Catalog, c.opt.RejectsPrefix = cat, layout.TableRejects(c.opt.OutPrefix)
	return nil
}

// openLake opens the iceberg sink's table: in the local catalog in
// sink.warehouse or the output folder, or in Glue with the s3://
// sink.warehouse.
func (c *runCmd) openLake(ctx context.Context) error {
	k := c.pl.Spec.Sink
	if k.Catalog == spec.CatalogGlue && k.Warehouse == "" {
		return errors.New("the iceberg sink's glue catalog needs sink.warehouse, s3://bucket[/prefix], for sluice run (the AWS functions use the stack's warehouse)")
	}
	root := k.Warehouse
	if k.Catalog != spec.CatalogGlue && root == "" {
		dir, ok := localFolder(c.output)
		if !ok {
			return fmt.Errorf("the iceberg sink's local catalog needs a local --output folder or sink.warehouse, not %s", c.output)
		}
		root = dir
	}
	// batch.Run writes the data files with the table's field ids, so the
	// table may evolve into any schema Iceberg allows.
	t, err := icebergtable.New(ctx, c.aws.location(k.Catalog, root, k.Warehouse), c.pl.Spec, &c.pl.Out,
		func(o *icebergtable.Options) { o.TableFieldIDs = true })
	if err != nil {
		return fmt.Errorf("iceberg sink: %w", err)
	}
	c.lake, c.opt.Lake = t, t
	return nil
}

// fold computes the spec's windows, as the stream path computes them,
// over the whole file.
func (c *runCmd) fold() error {
	if c.pl.Spec.Window == nil {
		return nil
	}
	folder, err := stream.NewFolder(c.pl)
	switch {
	case errors.Is(err, stream.ErrArrivalWindows):
		fmt.Fprintf(c.stderr, "sluice run: window section skipped: %v\n", err)
		return nil
	case err != nil:
		return fmt.Errorf("window: %w", err)
	}
	if c.pl.Spec.Window.Kind == window.Count {
		// The nth record of a key is a matter of order: one chunk.
		c.opt.ChunkBytes, c.opt.Parallel = 1<<62, 1
	}
	c.folder, c.opt.Fold = folder, folder.Chunk
	return nil
}

// progress shows the run's progress unless --quiet: a bar on a terminal,
// log lines elsewhere. It returns the function that stops the bar.
func (c *runCmd) progress() (stop func()) {
	stop = func() {}
	switch {
	case c.quiet:
	case term.IsTerminal(int(os.Stderr.Fd())):
		var progress atomic.Int64
		c.opt.Progress = &progress
		stop = startProgressBar(c.stderr, &progress, c.opt.Input, c.opt.Key)
	default:
		c.opt.Log = slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return stop
}

// report prints the manifest, then writes the windows of a run that
// succeeded, or reports why it failed.
func (c *runCmd) report(ctx context.Context, m *sinkout.Manifest, runErr error) error {
	if c.asJSON {
		if err := writeJSON(c.stdout, m); err != nil {
			return err
		}
	} else {
		printSummary(c.stdout, m, c.output)
	}
	reportErr := c.writeReport(ctx)
	if reportErr != nil && runErr != nil {
		fmt.Fprintf(c.stderr, "sluice run: report: %v\n", reportErr)
	}
	if runErr != nil {
		var re *batch.RejectError
		if errors.As(runErr, &re) {
			return fmt.Errorf("failed: %v", re)
		}
		return fmt.Errorf("failed: %w", runErr)
	}
	if reportErr != nil {
		return fmt.Errorf("report: %w", reportErr)
	}
	if c.opt.Fold == nil {
		return nil
	}
	n, err := writeWindows(ctx, c.opt.Output, c.opt.OutPrefix, c.folder.Cells())
	if err != nil {
		return fmt.Errorf("windows: %w", err)
	}
	if !c.asJSON {
		fmt.Fprintf(c.stdout, "windows:  %d written to %s\n", n, strings.TrimSuffix(c.output, "/")+"/"+layout.WindowsName)
	}
	return nil
}

// writeReport writes the run report when --report, --report-html or the
// spec's report.html asks for it, and says where. With --json, stdout
// holds the manifest only: the line goes to stderr.
func (c *runCmd) writeReport(ctx context.Context) error {
	if !c.withReport && c.reportHTML == "" && !c.pl.Spec.ReportHTML() {
		return nil
	}
	prefix := c.opt.OutPrefix
	r, err := report.Load(ctx, c.opt.Output, layout.ManifestKey(prefix), c.showValues || c.pl.Spec.ShowValues())
	if err != nil {
		return err
	}
	where := c.reportHTML
	if where != "" {
		err = writeReportFiles(where, r)
	} else {
		where = strings.TrimSuffix(c.output, "/") + "/" + layout.ReportName
		err = report.Write(ctx, c.opt.Output, layout.ReportKey(prefix), layout.ReportJSONKey(prefix), r)
	}
	if err != nil {
		return err
	}
	w := c.stdout
	if c.asJSON {
		w = c.stderr
	}
	fmt.Fprintf(w, "report:   %s\n", where)
	return nil
}

// startCPUProfile writes a CPU profile to path until stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// openInput opens the bucket holding the input. A plain path opens its
// directory as a file:// bucket. Stdin ("-" or /dev/stdin), a pipe, a FIFO
// or a device can be read only once: it is read fully into a temporary
// bucket first, at most maxBytes of it (limits.max_input_bytes; 0: no
// limit), and the returned closer removes that copy.
func openInput(ctx context.Context, input string, maxBytes int64) (storage.Bucket, string, io.Closer, error) {
	if u, key, ok := splitURL(input); ok {
		b, err := storage.Open(ctx, u)
		return b, key, nil, err
	}
	input = strings.TrimPrefix(input, "file://")
	if input == "-" {
		input = "/dev/stdin"
	}
	st, err := os.Stat(input)
	if err != nil {
		return nil, "", nil, fmt.Errorf("input: %w", err)
	}
	if st.IsDir() {
		return nil, "", nil, fmt.Errorf("input %s is a directory; give a file", input)
	}
	if !st.Mode().IsRegular() {
		sp, err := fileblob.Spool(ctx, input, func(o *fileblob.SpoolOptions) { o.MaxBytes = maxBytes })
		if errors.Is(err, fileblob.ErrTooLarge) {
			return nil, "", nil, fmt.Errorf("read %s: %w (%d bytes)", input, batch.ErrInputTooLarge, maxBytes)
		}
		if err != nil {
			return nil, "", nil, fmt.Errorf("input: %w", err)
		}
		return sp, sp.Key, sp, nil
	}
	b, err := storage.Open(ctx, "file://"+mustAbs(filepath.Dir(input)))
	return b, filepath.Base(input), nil, err
}

// closeSpool removes the temporary copy of a piped input.
func (c *runCmd) closeSpool() {
	if c.spool != nil {
		_ = c.spool.Close()
		c.spool = nil
	}
}

func mustAbs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

func printSummary(w io.Writer, m *sinkout.Manifest, output string) {
	fmt.Fprintf(w, "run %s %s in %.0f ms\n", m.RunID, m.Status, m.DurationMS)
	fmt.Fprintf(w, "  source    %s (%s, %s, %d bytes, %d chunks)\n", m.Source.Key, m.Format, m.Compression, m.BytesIn, m.Chunks)
	fmt.Fprintf(w, "  in        %d\n  out       %d\n  rejected  %d\n  filtered  %d\n", m.In, m.Out, m.Rejected, m.Filtered)
	for _, k := range sortedKeys(m.RejectedByRule) {
		fmt.Fprintf(w, "    rejected %-28s %d\n", k, m.RejectedByRule[k])
	}
	for _, k := range sortedKeys(m.FilteredByReason) {
		fmt.Fprintf(w, "    filtered %-28s %d\n", k, m.FilteredByReason[k])
	}
	fmt.Fprintf(w, "  output    %s (%d parts, %d bytes, %d reject files)\n", output, len(m.Parts), m.BytesOut, len(m.Rejects))
	if m.Error != "" {
		fmt.Fprintf(w, "  error     %s\n", m.Error)
	}
}

func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// startProgressBar draws a one-line progress bar on a terminal until the
// returned function is called.
func startProgressBar(w io.Writer, done *atomic.Int64, in storage.Bucket, key string) func() {
	total := int64(0)
	if a, err := in.Attributes(context.Background(), key); err == nil {
		total = a.Size
	}
	stop := make(chan struct{})
	finished := make(chan struct{})
	start := time.Now()
	draw := func() {
		n := done.Load()
		el := time.Since(start).Seconds()
		rate := 0.0
		if el > 0 {
			rate = float64(n) / el / 1e6
		}
		frac := 0.0
		if total > 0 {
			frac = min(float64(n)/float64(total), 1)
		}
		const width = 30
		bar := make([]byte, width)
		for i := range bar {
			if float64(i) < frac*width {
				bar[i] = '#'
			} else {
				bar[i] = '.'
			}
		}
		fmt.Fprintf(w, "\r[%s] %5.1f%%  %8.1f MB  %7.1f MB/s", bar, frac*100, float64(n)/1e6, rate)
	}
	go func() {
		defer close(finished)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				draw()
				fmt.Fprintln(w)
				return
			case <-t.C:
				draw()
			}
		}
	}()
	return func() { close(stop); <-finished }
}

func writeWindows(ctx context.Context, out storage.Bucket, prefix string, cells []window.Cell) (int, error) {
	var b bytes.Buffer
	for _, c := range cells {
		line, err := json.Marshal(cellJSON(c))
		if err != nil {
			return 0, err
		}
		b.Write(append(line, '\n'))
	}
	return len(cells), storage.WriteAll(ctx, out, layout.WindowsKey(prefix), b.Bytes())
}
