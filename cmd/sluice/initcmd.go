package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/core/infer"
)

const initUsage = "usage: sluice init --from FILE|s3://BUCKET/KEY|- [--name N] [--out spec.yaml|-] [--force] [--tolerance 0.05] [--records N]\n"

// initCmd is `sluice init`: a spec written from a sample of an input.
type initCmd struct {
	stdout, stderr io.Writer

	from, name, out string
	force           bool
	tolerance       float64
	records         int
}

// cmdInit is `sluice init`.
func cmdInit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := &initCmd{stdout: stdout, stderr: stderr}
	return exit(stderr, "sluice init", c.run(ctx, args))
}

func (c *initCmd) run(ctx context.Context, args []string) error {
	if err := c.parse(args); err != nil {
		return err
	}
	if err := c.refuseOverwrite(); err != nil {
		return err
	}
	s, err := c.sample(ctx)
	if err != nil {
		return err
	}
	r, err := infer.Infer(s, func(o *infer.Options) { o.Tolerance, o.Name = c.tolerance, c.name })
	if err != nil {
		return err
	}
	if err := c.write(r.Doc); err != nil {
		return err
	}
	c.summary(r)
	return nil
}

func (c *initCmd) parse(args []string) error {
	fs := newFlagSet("init", c.stderr)
	fs.StringVar(&c.from, "from", "", "the sample: a file, s3://bucket/key, or - for stdin; CSV, JSON Lines or JSON, plain, gzip or zstd")
	fs.StringVar(&c.name, "name", "", "the spec's name (default: the input's name without its extensions)")
	fs.StringVar(&c.out, "out", "spec.yaml", "the spec file to write, or - for stdout")
	fs.BoolVar(&c.force, "force", false, "overwrite the spec file if it exists")
	fs.Float64Var(&c.tolerance, "tolerance", infer.DefaultTolerance, "share of a column's non-empty values that may not fit its type, 0 to 1")
	fs.IntVar(&c.records, "records", infer.DefaultMaxRecords, "records read from the input at most")
	if err := fs.Parse(args); err != nil {
		return errFlags
	}
	switch {
	case fs.NArg() > 0:
		return exitf(2, "sluice init: unexpected argument %q\n%s", fs.Arg(0), initUsage)
	case c.from == "":
		return exitf(2, "sluice init: --from is required\n%s", initUsage)
	case !(c.tolerance >= 0 && c.tolerance <= 1):
		return exitf(2, "sluice init: --tolerance must be from 0 to 1, not %v\n", c.tolerance)
	case c.records < 1:
		return exitf(2, "sluice init: --records must be at least 1, not %d\n", c.records)
	}
	return nil
}

// refuseOverwrite refuses an existing spec file without --force, before
// the input is read.
func (c *initCmd) refuseOverwrite() error {
	if c.force || c.out == "-" {
		return nil
	}
	if _, err := os.Lstat(c.out); err == nil {
		return exitf(1, "sluice init: %s exists; --force overwrites it\n", c.out)
	}
	return nil
}

// sample reads the start of the input: a file or an s3:// object opened
// as sluice run opens its input, or a stream (stdin, a pipe) read only
// as far as the sample goes.
func (c *initCmd) sample(ctx context.Context) (*infer.Sample, error) {
	r, name, err := c.open(ctx)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return infer.ReadSample(r, name, func(o *infer.SampleOptions) { o.MaxRecords = c.records })
}

func (c *initCmd) open(ctx context.Context) (io.ReadCloser, string, error) {
	if path, ok := streamPath(c.from); ok {
		f, err := os.Open(path)
		if err != nil {
			return nil, "", fmt.Errorf("input: %w", err)
		}
		name := filepath.Base(path)
		if c.from == "-" {
			name = "stdin"
		}
		return f, name, nil
	}
	b, key, _, err := openInput(ctx, c.from, 0)
	if err != nil {
		return nil, "", err
	}
	r, err := storage.NewReader(ctx, b, key)
	if err != nil {
		return nil, "", fmt.Errorf("read %s: %w", c.from, err)
	}
	return r, key, nil
}

// streamPath is the path of an input that can be read only once: stdin,
// a pipe, a FIFO or a device.
func streamPath(input string) (string, bool) {
	if input == "-" {
		return "/dev/stdin", true
	}
	if _, _, ok := splitURL(input); ok {
		return "", false
	}
	p := strings.TrimPrefix(input, "file://")
	st, err := os.Stat(p)
	if err != nil || st.IsDir() || st.Mode().IsRegular() {
		return "", false
	}
	return p, true
}

// write writes the spec to --out: a new file, unless --force.
func (c *initCmd) write(doc []byte) error {
	if c.out == "-" {
		_, err := c.stdout.Write(doc)
		return silent(err)
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if c.force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(c.out, flags, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return exitf(1, "sluice init: %s exists; --force overwrites it\n", c.out)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", c.out, err)
	}
	if _, err := f.Write(doc); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", c.out, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", c.out, err)
	}
	return nil
}

// summary says what was written, on stderr when the spec went to stdout.
// It names no record value.
func (c *initCmd) summary(r *infer.Result) {
	w, out := c.stdout, c.out
	if c.out == "-" {
		w, out = c.stderr, "the spec"
	}
	n := r.Counts
	fmt.Fprintf(w, "wrote %s: %s\n", out, r.Describe())
	fmt.Fprintf(w, "  on the sample: %d kept, %d rejected", n.Kept, n.Rejected)
	if n.Rejected > 0 {
		fmt.Fprintf(w, " (the fields' comments list the values that do not fit)")
	}
	fmt.Fprintln(w)
	if c.out != "-" {
		dir := filepath.Join("out", r.Name)
		fmt.Fprintf(w, "next: sluice validate %s\n      sluice run --spec %s --input %s --output %s\n", out, out, c.from, dir)
	}
}
