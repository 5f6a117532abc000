package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/core/layout"
	"github.com/sluice-etl/sluice/shared/pipeline/report"
)

// reportCmd is `sluice report`: the report of a finished run.
type reportCmd struct {
	stdout, stderr io.Writer

	target     string
	html       string
	showValues bool
	aws        awsFlags
}

func cmdReport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := &reportCmd{stdout: stdout, stderr: stderr}
	return exit(stderr, "sluice report", c.run(ctx, args))
}

func (c *reportCmd) run(ctx context.Context, args []string) error {
	if err := c.parse(args); err != nil {
		return err
	}
	b, key, err := c.open(ctx)
	if err != nil {
		return err
	}
	r, err := report.Load(ctx, b, key, c.showValues)
	if err != nil {
		return err
	}
	if c.html == "" {
		twin, err := r.JSON()
		if err != nil {
			return err
		}
		_, err = c.stdout.Write(twin)
		return silent(err)
	}
	if err := writeReportFiles(c.html, r); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "report: %s (figures: %s)\n", c.html, report.TwinPath(c.html))
	return nil
}

// parse reads the flags, which may come before or after the target.
func (c *reportCmd) parse(args []string) error {
	fs := newFlagSet("report", c.stderr)
	fs.StringVar(&c.html, "html", "", "write the report page here, and its JSON twin beside it (.json); without it the JSON is printed")
	fs.BoolVar(&c.showValues, "show-values", false, "show record values: top values the run kept, and sample rejected rows (may be personal data)")
	c.aws.add(fs)
	fs.Usage = func() {
		fmt.Fprintln(c.stderr, "usage: sluice report RUN_DIR|MANIFEST|s3://BUCKET/PREFIX [--html out.html] [--show-values] [--endpoint URL]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return errFlags
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return &exitError{code: 2}
	}
	c.target = fs.Arg(0)
	if err := fs.Parse(fs.Args()[1:]); err != nil {
		return errFlags
	}
	if fs.NArg() > 0 {
		return exitf(2, "sluice report: unexpected argument %q\n", fs.Arg(0))
	}
	return nil
}

// open finds the run's manifest: a run folder (the --output of sluice
// run), a _manifest.json file, or an s3:// prefix or manifest key.
func (c *reportCmd) open(ctx context.Context) (storage.Bucket, string, error) {
	if bucketURL, key, ok := splitURL(c.target); ok {
		b, err := storage.Open(ctx, c.aws.bucketURL(bucketURL))
		if err != nil {
			return nil, "", err
		}
		if !strings.HasSuffix(key, ".json") {
			key = layout.ManifestKey(strings.Trim(key, "/"))
		}
		return b, key, nil
	}
	path := strings.TrimPrefix(c.target, "file://")
	st, err := os.Stat(path)
	if err != nil {
		return nil, "", fmt.Errorf("run folder or manifest: %w", err)
	}
	dir, key := path, layout.ManifestName
	if !st.IsDir() {
		dir, key = filepath.Dir(path), filepath.Base(path)
	}
	b, err := storage.Open(ctx, "file://"+mustAbs(dir))
	return b, key, err
}

// writeReportFiles writes a report's page to path and its JSON twin beside
// it.
func writeReportFiles(path string, r *report.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := r.WriteHTML(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	twin, err := r.JSON()
	if err != nil {
		return err
	}
	if err := os.WriteFile(report.TwinPath(path), twin, 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}
