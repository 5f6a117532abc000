package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
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

	"github.com/sluice-etl/sluice/shared/core/layout"
	sinkout "github.com/sluice-etl/sluice/shared/pipeline/output"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"golang.org/x/term"

	"github.com/sluice-etl/sluice/examples"
	"github.com/sluice-etl/sluice/shared/adapter/sink/dynamosink"
	"github.com/sluice-etl/sluice/shared/adapter/storage"
	_ "github.com/sluice-etl/sluice/shared/adapter/storage/fileblob"
	_ "github.com/sluice-etl/sluice/shared/adapter/storage/s3blob"
	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/core/window"
	"github.com/sluice-etl/sluice/shared/pipeline/batch"
	"github.com/sluice-etl/sluice/shared/pipeline/stream"
)

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	specPath := fs.String("spec", "", "pipeline spec (YAML or JSON)")
	input := fs.String("input", "", "input file path or URL (file://...)")
	output := fs.String("output", "", "output directory or URL")
	parallel := fs.Int("parallel", 1, "chunks transformed at once")
	chunk := fs.String("chunk-size", "", "chunk size, e.g. 32MiB (default: picked from --parallel)")
	asJSON := fs.Bool("json", false, "print the run manifest as JSON on stdout")
	quiet := fs.Bool("quiet", false, "no progress or log lines")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sluice run: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	var pl *plan.Plan
	var err error
	switch {
	case *specPath == "" && *input == "":
		// The embedded default: the bundled orders example.
		dir, derr := examples.WriteOrders(filepath.Join(os.TempDir(), "sluice-example"))
		if derr != nil {
			fmt.Fprintf(stderr, "sluice run: %v\n", derr)
			return 1
		}
		*specPath, *input = filepath.Join(dir, "spec.yaml"), filepath.Join(dir, "orders.csv")
		if *output == "" {
			*output = filepath.Join("out", "orders")
		}
	case *specPath == "" || *input == "" || *output == "":
		fmt.Fprintln(stderr, "sluice run: --spec, --input and --output are required (or none, to run the bundled example)")
		return 2
	}
	if pl, err = plan.FromFile(*specPath); err != nil {
		fmt.Fprintf(stderr, "sluice run: invalid spec:\n%v\n", err)
		return 1
	}
	opt := batch.RunOptions{Parallel: *parallel}
	if *chunk != "" {
		n, err := parseSize(*chunk)
		if err != nil {
			fmt.Fprintf(stderr, "sluice run: --chunk-size: %v\n", err)
			return 2
		}
		opt.ChunkBytes = n
	}
	in, key, err := openInput(ctx, *input)
	if err != nil {
		fmt.Fprintf(stderr, "sluice run: %v\n", err)
		return 1
	}
	out, err := storage.Open(ctx, *output)
	if err != nil {
		fmt.Fprintf(stderr, "sluice run: %v\n", err)
		return 1
	}
	opt.Input, opt.Key, opt.Output = in, key, out
	if pl.Spec.Sink.Format == string(sinkout.SinkDynamoDB) {
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "sluice run: AWS configuration for the dynamodb sink: %v\n", err)
			return 1
		}
		opt.Table = dynamosink.New(dynamodb.NewFromConfig(cfg), pl.Spec.Sink.Table, pl.Spec.Sink.Key)
	}

	// Windows, as the stream path computes them, over the whole file.
	var folder *stream.Folder
	if pl.Spec.Window != nil {
		folder, err = stream.NewFolder(pl)
		switch {
		case errors.Is(err, stream.ErrArrivalWindows):
			fmt.Fprintf(stderr, "sluice run: window section skipped: %v\n", err)
		case err != nil:
			fmt.Fprintf(stderr, "sluice run: window: %v\n", err)
			return 1
		default:
			if pl.Spec.Window.Kind == "count" {
				// The nth record of a key is a matter of order: one chunk.
				opt.ChunkBytes, opt.Parallel = 1<<62, 1
			}
			opt.Fold = folder.Chunk
		}
	}

	tty := term.IsTerminal(int(os.Stderr.Fd()))
	var stopProgress func()
	if !*quiet {
		if tty {
			var progress atomic.Int64
			opt.Progress = &progress
			stopProgress = startProgressBar(stderr, &progress, in, key)
		} else {
			opt.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
		}
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "sluice run: %v\n", err)
			return 1
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "sluice run: %v\n", err)
			return 1
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	m, runErr := batch.Run(ctx, pl, opt)
	if stopProgress != nil {
		stopProgress()
	}
	if m == nil {
		fmt.Fprintf(stderr, "sluice run: %v\n", runErr)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(m); err != nil {
			fmt.Fprintf(stderr, "sluice run: %v\n", err)
			return 1
		}
	} else {
		printSummary(stdout, m, *output)
	}
	if runErr == nil && opt.Fold != nil {
		n, err := writeWindows(ctx, out, folder.Cells())
		if err != nil {
			fmt.Fprintf(stderr, "sluice run: windows: %v\n", err)
			return 1
		}
		if !*asJSON {
			fmt.Fprintf(stdout, "windows:  %d written to %s\n", n, strings.TrimSuffix(*output, "/")+"/"+layout.WindowsName)
		}
	}
	if runErr != nil {
		var re *batch.RejectError
		if errors.As(runErr, &re) {
			fmt.Fprintf(stderr, "sluice run: failed: %v\n", re)
		} else {
			fmt.Fprintf(stderr, "sluice run: failed: %v\n", runErr)
		}
		return 1
	}
	return 0
}

// openInput opens the bucket holding the input. A plain path opens its
// directory as a file:// bucket.
func openInput(ctx context.Context, input string) (storage.Bucket, string, error) {
	if u, key, ok := splitURL(input); ok {
		b, err := storage.Open(ctx, u)
		return b, key, err
	}
	input = strings.TrimPrefix(input, "file://")
	st, err := os.Stat(input)
	if err != nil {
		return nil, "", fmt.Errorf("input: %w", err)
	}
	if st.IsDir() {
		return nil, "", fmt.Errorf("input %s is a directory; give a file", input)
	}
	b, err := storage.Open(ctx, "file://"+mustAbs(filepath.Dir(input)))
	return b, filepath.Base(input), err
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

func writeWindows(ctx context.Context, out storage.Bucket, cells []window.Cell) (int, error) {
	var b bytes.Buffer
	for _, c := range cells {
		line, err := json.Marshal(cellJSON(c))
		if err != nil {
			return 0, err
		}
		b.Write(append(line, '\n'))
	}
	return len(cells), storage.WriteAll(ctx, out, layout.WindowsKey(""), b.Bytes())
}
