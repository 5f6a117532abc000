package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-etl/sluice/shared/core/infer"
)

// initManifest is what these tests read of a run's --json manifest.
type initManifest struct {
	Status         string           `json:"status"`
	In             int              `json:"records_in"`
	Out            int              `json:"records_out"`
	Rejected       int              `json:"records_rejected"`
	Filtered       int              `json:"records_filtered"`
	RejectedByRule map[string]int   `json:"rejected_by_rule"`
	Rejects        []map[string]any `json:"rejects"`
}

// initAndRun writes a spec with sluice init from input, validates it,
// runs it on the same input, and returns the run's manifest.
func initAndRun(t *testing.T, input string, initArgs ...string) (string, initManifest) {
	t.Helper()
	dir := t.TempDir()
	spec := filepath.Join(dir, "spec.yaml")
	code, out, stderr := runCLI(t, append([]string{"init", "--from", input, "--out", spec}, initArgs...)...)
	if code != 0 {
		t.Fatalf("init: exit %d: %s", code, stderr)
	}
	if !strings.HasPrefix(out, "wrote "+spec+": ") {
		t.Errorf("init said %q", out)
	}
	if code, _, stderr := runCLI(t, "validate", spec); code != 0 {
		t.Fatalf("validate: exit %d: %s", code, stderr)
	}
	code, out, stderr = runCLI(t, "run", "--json", "--quiet", "--spec", spec, "--input", input, "--output", filepath.Join(dir, "out"))
	if code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	var m initManifest
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("run's stdout is not the manifest: %v\n%s", err, out)
	}
	if m.Status != "succeeded" || m.In != m.Out+m.Rejected+m.Filtered {
		t.Fatalf("run: %+v", m)
	}
	return spec, m
}

// inferred is what the infer package makes of an input, read as sluice
// init reads it.
func inferred(t *testing.T, input string) *infer.Result {
	t.Helper()
	f, err := os.Open(input)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := infer.ReadSample(f, filepath.Base(input))
	if err != nil {
		t.Fatal(err)
	}
	r, err := infer.Infer(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The done-when: on a fresh clone, sluice init --from
// examples/orders/orders.csv writes a spec that validates and runs.
// The run rejects exactly the records init counted, by the same rules.
func TestInitOrdersExample(t *testing.T) {
	src, err := os.ReadFile("../../examples/orders/orders.csv")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	if err := os.MkdirAll("examples/orders", 0o755); err != nil {
		t.Fatal(err)
	}
	input := filepath.Join("examples", "orders", "orders.csv")
	if err := os.WriteFile(input, src, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runCLI(t, "init", "--from", input)
	if code != 0 {
		t.Fatalf("init: exit %d: %s", code, stderr)
	}
	want := "wrote spec.yaml: 9 fields from 25 records of orders.csv (csv, uncompressed)\n" +
		"  on the sample: 21 kept, 4 rejected (the fields' comments list the values that do not fit)\n" +
		"next: sluice validate spec.yaml\n      sluice run --spec spec.yaml --input examples/orders/orders.csv --output out/orders\n"
	if out != want {
		t.Errorf("init said\n%s\nwant\n%s", out, want)
	}
	if code, _, stderr := runCLI(t, "validate", "spec.yaml"); code != 0 {
		t.Fatalf("validate: exit %d: %s", code, stderr)
	}
	code, out, stderr = runCLI(t, "run", "--json", "--quiet", "--spec", "spec.yaml", "--input", input, "--output", "out/orders")
	if code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	var m initManifest
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	wantRules := map[string]int{"amount.type": 1, "created_at.type": 1, "decode": 1, "user_id.type": 1}
	if m.In != 25 || m.Out != 21 || m.Rejected != 4 || !maps.Equal(m.RejectedByRule, wantRules) {
		t.Fatalf("run: in %d, out %d, rejected %d %v; want 25, 21, 4 %v", m.In, m.Out, m.Rejected, m.RejectedByRule, wantRules)
	}
}

// Each sample's spec validates and runs, and the run rejects, by rule,
// exactly the values init found not to fit: in these samples no record
// holds two.
func TestInitSpecsRunOnTheirSamples(t *testing.T) {
	samples := []string{"bom_crlf.csv", "dirty.csv", "unix.csv", "padded.csv", "odd_names.csv", "events.jsonl", "items.json", "semi.txt"}
	for _, name := range samples {
		t.Run(name, func(t *testing.T) {
			input := filepath.Join("..", "..", "shared", "core", "infer", "testdata", name)
			r := inferred(t, input)
			_, m := initAndRun(t, input)
			misfits := map[string]int{}
			total := 0
			for _, f := range r.Fields {
				if f.Misfits > 0 {
					misfits[f.Name+".type"] = f.Misfits
					total += f.Misfits
				}
			}
			if m.In != len(r.Sample.Rows) || m.Rejected != total || !maps.Equal(m.RejectedByRule, misfits) {
				t.Errorf("run: in %d, rejected %d %v; init: %d records, %d misfits %v",
					m.In, m.Rejected, m.RejectedByRule, len(r.Sample.Rows), total, misfits)
			}
		})
	}
}

// The dirty sample's amount column has 2 n/a among 60 decimals: a
// decimal of scale 2, and the run quarantines exactly those 2 rows.
func TestInitDirtyColumn(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("../../shared/core/infer/testdata/dirty.csv")
	if err != nil {
		t.Fatal(err)
	}
	input := filepath.Join(dir, "dirty.csv.gz")
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(data)
	w.Close()
	if err := os.WriteFile(input, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	spec, m := initAndRun(t, input)
	doc, err := os.ReadFile(spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"  - name: amount\n    # 2 of 60 values are not decimals of scale 2; sluice run rejects\n",
		"    #   \"n/a\"\n",
		"    type: decimal\n    scale: 2 ",
		"  compression: auto # the sample is gzip;",
	} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("spec lacks %q:\n%s", want, doc)
		}
	}
	if m.In != 60 || m.Rejected != 2 || m.RejectedByRule["amount.type"] != 2 {
		t.Fatalf("run: %+v", m)
	}
	rejects := readRejects(t, filepath.Join(filepath.Dir(spec), "out"))
	for _, line := range []int{19, 43} {
		if rejects[line] != "amount" {
			t.Errorf("rejects = %v, want line %d under amount", rejects, line)
		}
	}
}

// readRejects reads a run's reject files: the field each line was
// rejected for.
func readRejects(t *testing.T, out string) map[int]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(out, "rejects", "*.jsonl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no reject files in %s: %v", out, err)
	}
	got := map[int]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			var r struct {
				Line  int    `json:"line"`
				Field string `json:"field"`
			}
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatal(err)
			}
			got[r.Line] = r.Field
		}
	}
	return got
}

// An existing spec file is left alone without --force, before the input
// is read; --force overwrites it.
func TestInitRefusesOverwrite(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "spec.yaml")
	if err := os.WriteFile(spec, []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runCLI(t, "init", "--from", filepath.Join(dir, "absent.csv"), "--out", spec)
	if code != 1 || out != "" || stderr != "sluice init: "+spec+" exists; --force overwrites it\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	if b, _ := os.ReadFile(spec); string(b) != "mine\n" {
		t.Fatalf("spec file changed: %q", b)
	}
	code, _, stderr = runCLI(t, "init", "--from", "../../examples/orders/orders.csv", "--out", spec, "--force", "--name", "mine")
	if code != 0 {
		t.Fatalf("--force: exit %d: %s", code, stderr)
	}
	if b, _ := os.ReadFile(spec); !bytes.Contains(b, []byte("\nname: mine\n")) {
		t.Fatalf("spec not overwritten:\n%s", b)
	}
}

// --out - writes the spec on stdout and the summary on stderr.
func TestInitToStdout(t *testing.T) {
	code, out, stderr := runCLI(t, "init", "--from", "../../shared/core/infer/testdata/semi.txt", "--out", "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	golden, err := os.ReadFile("../../shared/core/infer/testdata/semi.golden.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if out != string(golden) {
		t.Errorf("stdout is not the golden spec:\n%s", out)
	}
	if stderr != "wrote the spec: 3 fields from 2 records of semi.txt (csv, uncompressed)\n  on the sample: 2 kept, 0 rejected\n" {
		t.Errorf("stderr = %q", stderr)
	}
}

// Bad flags and inputs fail with a clear error and write nothing.
func TestInitErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	empty := write("empty.csv", "")
	dup := write("dup.csv", "a,b,a\n1,2,3\n")
	utf16 := write("u.csv", "\xff\xfea\x00\n\x00")
	notObjects := write("n.jsonl", "{}\n[1,2]\n3\n")
	cut := write("cut.json", `[{"a": 1}, {"a": `)
	cases := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{}, 2, "sluice init: --from is required\n" + initUsage},
		{[]string{"--from", empty, "x"}, 2, "sluice init: unexpected argument \"x\"\n" + initUsage},
		{[]string{"--from", empty, "--tolerance", "1.5"}, 2, "sluice init: --tolerance must be from 0 to 1, not 1.5\n"},
		{[]string{"--from", empty, "--records", "0"}, 2, "sluice init: --records must be at least 1, not 0\n"},
		{[]string{"--from", filepath.Join(dir, "absent.csv")}, 1, "sluice init: input: stat " + filepath.Join(dir, "absent.csv") + ": no such file or directory\n"},
		{[]string{"--from", dir}, 1, "sluice init: input " + dir + " is a directory; give a file\n"},
		{[]string{"--from", empty}, 1, "sluice init: read empty.csv: no columns in the sample\n"},
		{[]string{"--from", dup}, 1, "sluice init: read dup.csv: bad header: line 1: duplicate column name \"a\" (columns 1 and 3)\n"},
		{[]string{"--from", utf16}, 1, "sluice init: read u.csv: UTF-16 is not supported; convert to UTF-8 (the input starts with a UTF-16LE byte order mark)\n"},
		{[]string{"--from", notObjects}, 1, "sluice init: read n.jsonl: no columns in the sample: 2 of 3 records could not be decoded (record 2: not a JSON object: got an array)\n"},
		{[]string{"--from", cut}, 1, "sluice init: read cut.json: json: input is truncated: input ends inside the array after 1 records (byte 17)\n"},
	}
	for _, c := range cases {
		out := filepath.Join(dir, "spec.yaml")
		code, stdout, stderr := runCLI(t, append([]string{"init", "--out", out}, c.args...)...)
		if code != c.code || stdout != "" || stderr != c.stderr {
			t.Errorf("init %q: exit %d, stdout %q, stderr %q; want exit %d, stderr %q", c.args, code, stdout, stderr, c.code, c.stderr)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("init %q wrote %s", c.args, out)
		}
	}
}
