//go:build unix

package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
)

// The CLI cases of issue 11: stdin, pipes and FIFOs are read fully and
// exactly once, with the input limits on the bytes read; old Mac CSV,
// oversized JSON elements, other text encodings, nested or trailing
// compression and zstd windows are read or refused clearly.

// runManifest is what these tests read of a run's --json manifest.
type runManifest struct {
	Status   string `json:"status"`
	In       int64  `json:"records_in"`
	Out      int64  `json:"records_out"`
	Rejected int64  `json:"records_rejected"`
	Filtered int64  `json:"records_filtered"`
	Chunks   int    `json:"chunks"`
	Source   struct {
		Bucket, Key string
		Size        int64
	} `json:"source"`
	RejectedByRule map[string]int64 `json:"rejected_by_rule"`
	Parts          []struct{ Key string }
}

func runCtx(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

// runJSON runs sluice run with --json --quiet and returns its manifest.
func runJSON(t *testing.T, args ...string) runManifest {
	t.Helper()
	code, out, stderr := runCLI(t, append([]string{"run", "--json", "--quiet"}, args...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var m runManifest
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("stdout is not the manifest: %v\n%s", err, out)
	}
	if m.In != m.Out+m.Rejected+m.Filtered {
		t.Fatalf("in %d != out %d + rejected %d + filtered %d", m.In, m.Out, m.Rejected, m.Filtered)
	}
	return m
}

// outputLines returns the lines of the run's part files, in part order.
func outputLines(t *testing.T, dir string, m runManifest) []string {
	t.Helper()
	var lines []string
	for _, p := range m.Parts {
		data, err := os.ReadFile(filepath.Join(dir, p.Key))
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")...)
	}
	return lines
}

// pipeInput returns a /dev/fd path that reads data through a pipe, written
// by a goroutine.
func pipeInput(t *testing.T, data []byte) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Write(data)
		w.Close()
	}()
	t.Cleanup(func() { r.Close(); <-done })
	return fmt.Sprintf("/dev/fd/%d", r.Fd())
}

func writeFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const jsonlSpec = "version: 1\nfields: [{name: id, type: int}, {name: name}]\nsink: {format: jsonl}\n"

// jsonlInput is the input: n lines {"id":i,"name":"n<i>"}.
func jsonlInput(n int) (data []byte, lines []string) {
	var b bytes.Buffer
	for i := range n {
		line := fmt.Sprintf(`{"id":%d,"name":"n%d"}`, i, i)
		lines = append(lines, line)
		b.WriteString(line + "\n")
	}
	return b.Bytes(), lines
}

func noOutput(t *testing.T, dir string) {
	t.Helper()
	for _, name := range []string{"_SUCCESS", "_manifest.json"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			t.Errorf("%s written", name)
		}
	}
}

// Piped JSON Lines: every record, once, in order (today: the first 64 KiB
// was lost to a sniffing read, with success).
func TestRunPipedJSONL(t *testing.T) {
	dir := t.TempDir()
	spec := writeFile(t, dir, "s.yaml", jsonlSpec)
	data, lines := jsonlInput(100_000)
	out := filepath.Join(dir, "out")
	m := runJSON(t, "--spec", spec, "--input", pipeInput(t, data), "--output", out)
	if m.Status != "succeeded" || m.In != 100_000 || m.Out != 100_000 || m.Source.Size != int64(len(data)) || m.Source.Bucket != "file:///dev/fd" {
		t.Fatalf("manifest %+v", m)
	}
	if got := outputLines(t, out, m); !slices.Equal(got, lines) {
		t.Fatalf("output differs: %d lines, first %q", len(got), got[0])
	}
}

// Parallel chunks of a piped input: every record exactly once.
func TestRunPipedParallel(t *testing.T) {
	dir := t.TempDir()
	spec := writeFile(t, dir, "s.yaml", jsonlSpec)
	data, lines := jsonlInput(100_000)
	out := filepath.Join(dir, "out")
	m := runJSON(t, "--spec", spec, "--input", pipeInput(t, data), "--output", out, "--parallel", "3", "--chunk-size", "256KiB")
	if m.In != 100_000 || m.Out != 100_000 || m.Chunks < 10 {
		t.Fatalf("manifest %+v", m)
	}
	got := outputLines(t, out, m)
	sort.Strings(got)
	sort.Strings(lines)
	if !slices.Equal(got, lines) {
		t.Fatalf("output differs: %d lines for %d", len(got), len(lines))
	}
}

// The orders example piped gives what the file gives (today: in = 0).
func TestRunPipedOrdersCSV(t *testing.T) {
	data, err := os.ReadFile("../../examples/orders/orders.csv")
	if err != nil {
		t.Fatal(err)
	}
	m := runJSON(t, "--spec", "../../examples/orders/spec.yaml", "--input", pipeInput(t, data), "--output", t.TempDir())
	if m.Status != "succeeded" || m.In != 25 || m.Out != 10 || m.Rejected != 12 || m.Filtered != 3 {
		t.Fatalf("manifest %+v", m)
	}
}

// A FIFO is read once its writer comes; a cancelled run stops waiting for
// one (today: it blocked in open and ignored SIGTERM).
func TestRunFIFO(t *testing.T) {
	dir := t.TempDir()
	spec := writeFile(t, dir, "s.yaml", jsonlSpec)
	fifo := filepath.Join(dir, "in.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	data, lines := jsonlInput(5000)
	done := make(chan error, 1)
	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err == nil {
			_, err = f.Write(data)
			f.Close()
		}
		done <- err
	}()
	out := filepath.Join(dir, "out")
	m := runJSON(t, "--spec", spec, "--input", fifo, "--output", out)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if m.In != 5000 || m.Out != 5000 || m.Source.Key != "in.fifo" || !slices.Equal(outputLines(t, out, m), lines) {
		t.Fatalf("manifest %+v", m)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out2 := filepath.Join(dir, "out2")
	code, _, stderr := runCtx(t, ctx, "run", "--quiet", "--spec", spec, "--input", fifo, "--output", out2)
	if code != 1 || stderr != "sluice run: input: spool "+fifo+": context canceled\n" {
		t.Fatalf("exit %d: %q", code, stderr)
	}
	noOutput(t, out2)
	if fd, err := syscall.Open(fifo, syscall.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
		syscall.Close(fd)
		t.Fatal("the cancelled run still reads the FIFO")
	}
}

// limits.max_input_bytes holds for bytes read from a stream, whose size
// is not known ahead: the run is refused and writes nothing (today: a
// pipe ran with no limit, /dev/zero forever).
func TestRunInputLimitOnBytesRead(t *testing.T) {
	dir := t.TempDir()
	spec := writeFile(t, dir, "s.yaml", jsonlSpec+"limits: {max_input_bytes: 1MiB}\n")
	data, _ := jsonlInput(100_000)
	for _, in := range []string{pipeInput(t, data), "/dev/zero"} {
		out := filepath.Join(dir, "out")
		code, _, stderr := runCLI(t, "run", "--quiet", "--spec", spec, "--input", in, "--output", out)
		if want := "sluice run: read " + in + ": input larger than limits.max_input_bytes (1048576 bytes)\n"; code != 1 || stderr != want {
			t.Fatalf("%s: exit %d: %q, want %q", in, code, stderr, want)
		}
		noOutput(t, out)
	}
	// At the limit, it runs.
	small, _ := jsonlInput(10)
	spec2 := writeFile(t, dir, "s2.yaml", fmt.Sprintf("%slimits: {max_input_bytes: %d}\n", jsonlSpec, len(small)))
	if m := runJSON(t, "--spec", spec2, "--input", pipeInput(t, small), "--output", filepath.Join(dir, "out2")); m.In != 10 {
		t.Fatalf("manifest %+v", m)
	}
}

// Old Mac line ends are records, also in a file large enough to be
// chunked at an LF inside a quoted field (today: one header line, in = 0).
func TestRunOldMacCSV(t *testing.T) {
	dir := t.TempDir()
	spec := writeFile(t, dir, "s.yaml", jsonlSpec)
	in := writeFile(t, dir, "cr.csv", "id,name,val\r1,a,x\r2,b,y\r3,c,z\r")
	out := filepath.Join(dir, "out")
	m := runJSON(t, "--spec", spec, "--input", in, "--output", out)
	want := []string{`{"id":1,"name":"a"}`, `{"id":2,"name":"b"}`, `{"id":3,"name":"c"}`}
	if m.In != 3 || m.Out != 3 || !slices.Equal(outputLines(t, out, m), want) {
		t.Fatalf("manifest %+v, output %q", m, outputLines(t, out, m))
	}

	var b strings.Builder
	b.WriteString("id,name\r")
	want = nil
	for i := range 20_000 {
		name := fmt.Sprintf("n%d", i)
		if i == 5000 { // past the first planned chunk boundary
			name = "two\nlines"
		}
		fmt.Fprintf(&b, "%d,\"%s\"\r", i, name)
		line, _ := json.Marshal(map[string]any{"id": i, "name": name})
		want = append(want, string(line))
	}
	big := writeFile(t, dir, "big.csv", b.String())
	out = filepath.Join(dir, "out2")
	m = runJSON(t, "--spec", spec, "--input", big, "--output", out, "--parallel", "2", "--chunk-size", "16KiB")
	got := outputLines(t, out, m)
	if m.In != 20_000 || m.Out != 20_000 || m.Chunks < 2 || !slices.Equal(got, want) {
		t.Fatalf("manifest %+v; %d lines", m, len(got))
	}
}

// The JSON document: the 2 MiB element is rejected and the run
// goes on (today: the run failed, in = 0).
func TestRunJSONOversizedElement(t *testing.T) {
	dir := t.TempDir()
	spec := writeFile(t, dir, "s.yaml", jsonlSpec)
	in := writeFile(t, dir, "big.json", `[{"id":1},{"id":2,"name":"`+strings.Repeat("n", 2<<20)+`"},{"id":3}]`)
	out := filepath.Join(dir, "out")
	m := runJSON(t, "--spec", spec, "--input", in, "--output", out)
	if m.Status != "succeeded" || m.In != 3 || m.Out != 2 || m.Rejected != 1 || m.RejectedByRule["decode"] != 1 {
		t.Fatalf("manifest %+v", m)
	}
	if got := outputLines(t, out, m); !slices.Equal(got, []string{`{"id":1,"name":null}`, `{"id":3,"name":null}`}) {
		t.Fatalf("output %q", got)
	}
}

func gzipped(t *testing.T, data []byte) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Inputs that cannot be read fail with an error that says what they are,
// once, and no binary garbage (today: NUL bytes, "gzip: gzip:", or a
// header of compressed bytes; UTF-16 without a header wrote NUL rows and
// succeeded).
func TestRunUnreadableInputsErrors(t *testing.T) {
	dir := t.TempDir()
	spec := writeFile(t, dir, "s.yaml", jsonlSpec)
	noHeader := writeFile(t, dir, "nh.yaml", "version: 1\nsource: {csv: {header: false, columns: [id, name]}}\nfields: [{name: id, type: int}, {name: name}]\n")
	utf16 := "\xff\xfei\x00d\x00,\x00n\x00a\x00m\x00e\x00\n\x001\x00,\x00a\x00\n\x00"
	csv := []byte("id,name\n1,a\n")
	cases := []struct {
		name, spec, file, data, want string
	}{
		{"UTF-16", spec, "u16.csv", utf16, "sluice run: failed: extract: u16.csv: UTF-16 is not supported; convert to UTF-8 (the input starts with a UTF-16LE byte order mark)\n"},
		{"UTF-16 without a header", noHeader, "u16.csv", utf16, "sluice run: failed: transform: u16.csv: UTF-16 is not supported; convert to UTF-8 (the input starts with a UTF-16LE byte order mark)\n"},
		{"UTF-32 JSON Lines", spec, "u32.jsonl", "\x00\x00\xfe\xff\x00\x00\x00{", "sluice run: failed: transform: u32.jsonl: UTF-32 is not supported; convert to UTF-8 (the input starts with a UTF-32BE byte order mark)\n"},
		{"gzip in gzip", spec, "gg.csv.gz", string(gzipped(t, gzipped(t, csv))), "sluice run: failed: extract: gg.csv.gz: csv: read at byte 0: gzip: nested compression: the decompressed data is gzip-compressed again; decompress the outer layer first\n"},
		{"gzip then garbage", spec, "tg.csv.gz", string(gzipped(t, csv)) + "garbage", fmt.Sprintf("sluice run: failed: transform: tg.csv.gz chunk 0: csv: read at byte 12: gzip: decompress after 12 bytes: trailing data after the gzip stream: byte %d is not the start of another gzip member (it starts 67 61 72 62 61 67 65)\n", len(gzipped(t, csv)))},
		{"bad gzip header", spec, "bad.csv.gz", "\x1f\x8bxxxxxxxxxxxxxxxx", "sluice run: failed: extract: bad.csv.gz: gzip: invalid header\n"},
	}
	for _, c := range cases {
		in := writeFile(t, dir, c.file, c.data)
		code, _, stderr := runCLI(t, "run", "--quiet", "--spec", c.spec, "--input", in, "--output", filepath.Join(dir, "out", c.name))
		if code != 1 || stderr != c.want {
			t.Errorf("%s: exit %d:\n%q\nwant\n%q", c.name, code, stderr, c.want)
		}
	}
}

// zstdFrame is a zstd frame of one raw block that declares a window of
// 1<<windowLog bytes and no content size, as zstd --long writes.
func zstdFrame(data []byte, windowLog int) []byte {
	b := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, byte(windowLog-10) << 3}
	h := uint32(1) | uint32(len(data))<<3
	return append(append(b, byte(h), byte(h>>8), byte(h>>16)), data...)
}

// A zstd frame whose window is over limits.max_zstd_window (default
// 32 MiB) is refused before it takes the memory; raising the limit reads
// it (today: any window up to 512 MiB was taken).
func TestRunZstdWindow(t *testing.T) {
	dir := t.TempDir()
	spec := writeFile(t, dir, "s.yaml", jsonlSpec)
	in := writeFile(t, dir, "w.csv.zst", string(zstdFrame([]byte("id,name\n1,a\n2,b\n"), 26)))
	code, _, stderr := runCLI(t, "run", "--quiet", "--spec", spec, "--input", in, "--output", filepath.Join(dir, "out"))
	want := "sluice run: failed: extract: w.csv.zst: zstd: window over limits.max_zstd_window: the first frame needs a window of 64 MiB, over the limit of 32 MiB; raise limits.max_zstd_window (memory use grows with it) or compress without --long\n"
	if code != 1 || stderr != want {
		t.Fatalf("exit %d: %q", code, stderr)
	}
	raised := writeFile(t, dir, "r.yaml", jsonlSpec+"limits: {max_zstd_window: 64MiB}\n")
	if m := runJSON(t, "--spec", raised, "--input", in, "--output", filepath.Join(dir, "out2")); m.In != 2 || m.Out != 2 {
		t.Fatalf("manifest %+v", m)
	}
}
