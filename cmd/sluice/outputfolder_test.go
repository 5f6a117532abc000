package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// folderRows reads every data row (JSON Lines parts outside rejects/) in
// an output folder, sorted.
func folderRows(t *testing.T, dir string) []string {
	t.Helper()
	var rows []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasPrefix(d.Name(), "part-") || strings.Contains(p, "/rejects/") {
			return err
		}
		data, err := os.ReadFile(p)
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			if l != "" {
				rows = append(rows, l)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(rows)
	return rows
}

func readManifest(t *testing.T, dir string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "_manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

const idNameSpec = "version: 1\nsource: {format: csv}\nfields:\n  - {name: id, type: int}\n  - {name: name}\nsink: {format: jsonl}\n"

// A rerun of an edited input into the same folder replaces that input's
// earlier rows, and keeps the rows of other inputs in the folder.
func TestRerunOfAnEditedInputReplacesItsRows(t *testing.T) {
	dir := t.TempDir()
	spec, out := filepath.Join(dir, "s.yaml"), filepath.Join(dir, "out")
	os.WriteFile(spec, []byte(idNameSpec), 0o644)
	a, b := filepath.Join(dir, "a.csv"), filepath.Join(dir, "b.csv")
	run := func(in string) {
		t.Helper()
		if code, _, stderr := runCLI(t, "run", "--spec", spec, "--input", in, "--output", out, "--quiet"); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
	}
	os.WriteFile(a, []byte("id,name\n1,x\n2,y\nz,bad\n"), 0o644)
	run(a)
	os.WriteFile(b, []byte("id,name\n10,other\n"), 0o644)
	run(b)
	os.WriteFile(a, []byte("id,name\n3,fixed\n4,w\n"), 0o644) // edited
	run(a)
	want := []string{`{"id":10,"name":"other"}`, `{"id":3,"name":"fixed"}`, `{"id":4,"name":"w"}`}
	if got := folderRows(t, out); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("rows %v, want %v", got, want)
	}
	if m := readManifest(t, out); m["records_out"] != 2.0 || m["status"] != "succeeded" {
		t.Fatalf("manifest %v", m)
	}
	// The first version's reject went with its rows.
	if rejects, _ := os.ReadDir(filepath.Join(out, "rejects")); len(rejects) != 0 {
		t.Fatalf("rejects left: %v", rejects)
	}
}

// Runs into one folder at once go one after the other: each succeeds,
// nothing is left in staging, and the folder holds the last run's rows.
func TestConcurrentRunsIntoOneFolder(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	var b strings.Builder
	b.WriteString("id,name\n")
	for i := range 2000 {
		fmt.Fprintf(&b, "%d,n%d\n", i, i)
	}
	os.WriteFile(in, []byte(b.String()), 0o644)
	specs := []string{filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")}
	os.WriteFile(specs[0], []byte(idNameSpec), 0o644)
	os.WriteFile(specs[1], []byte(idNameSpec+"filter: id % 2 == 0\n"), 0o644)
	for try := range 10 {
		out := filepath.Join(dir, fmt.Sprintf("out%d", try))
		var wg sync.WaitGroup
		codes := make([]int, 2)
		errs := make([]string, 2)
		for i, spec := range specs {
			wg.Go(func() {
				codes[i], _, errs[i] = runCLI(t, "run", "--spec", spec, "--input", in, "--output", out, "--quiet", "--parallel", "2")
			})
		}
		wg.Wait()
		if codes[0] != 0 || codes[1] != 0 {
			t.Fatalf("try %d: exits %v: %v", try, codes, errs)
		}
		if _, err := os.Stat(filepath.Join(out, "_staging")); !os.IsNotExist(err) {
			t.Fatalf("try %d: staging left: %v", try, err)
		}
		m := readManifest(t, out)
		if got := len(folderRows(t, out)); float64(got) != m["records_out"] || m["status"] != "succeeded" {
			t.Fatalf("try %d: %d rows in the folder, the manifest says %v", try, got, m["records_out"])
		}
	}
}

// A row whose partition folder name would be too long for the file
// system is quarantined with its own rule; the run goes on and leaves no
// staging behind.
func TestLongPartitionValueIsQuarantined(t *testing.T) {
	dir := t.TempDir()
	spec, in, out := filepath.Join(dir, "s.yaml"), filepath.Join(dir, "in.csv"), filepath.Join(dir, "out")
	os.WriteFile(spec, []byte(idNameSpec[:len(idNameSpec)-len("sink: {format: jsonl}\n")]+"sink: {format: jsonl, partition_by: [{key: n, field: name}]}\n"), 0o644)
	os.WriteFile(in, []byte("id,name\n1,short\n2,"+strings.Repeat("x", 300)+"\n3,"+strings.Repeat("é", 100)+"\n"), 0o644)
	code, stdout, stderr := runCLI(t, "run", "--spec", spec, "--input", in, "--output", out, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var m struct {
		In       int64            `json:"records_in"`
		Out      int64            `json:"records_out"`
		Rejected int64            `json:"records_rejected"`
		ByRule   map[string]int64 `json:"rejected_by_rule"`
	}
	if err := json.Unmarshal([]byte(stdout), &m); err != nil {
		t.Fatal(err)
	}
	if m.In != 3 || m.Out != 1 || m.Rejected != 2 || m.ByRule["name.partition"] != 2 {
		t.Fatalf("manifest %+v", m)
	}
	if got := folderRows(t, out); len(got) != 1 || got[0] != `{"id":1,"name":"short"}` {
		t.Fatalf("rows %v", got)
	}
	rejects, _ := os.ReadDir(filepath.Join(out, "rejects"))
	if len(rejects) != 1 {
		t.Fatalf("rejects %v", rejects)
	}
	data, _ := os.ReadFile(filepath.Join(out, "rejects", rejects[0].Name()))
	if !strings.Contains(string(data), `"reason":"partition folder n=... is 302 bytes once escaped; at most 255"`) ||
		!strings.Contains(string(data), `"reason":"partition folder n=... is 602 bytes once escaped; at most 255"`) {
		t.Fatalf("rejects:\n%s", data)
	}
	if _, err := os.Stat(filepath.Join(out, "_staging")); !os.IsNotExist(err) {
		t.Fatalf("staging left: %v", err)
	}
}

// A failed run writes its failed manifest and leaves nothing staged.
func TestFailedRunLeavesNoStaging(t *testing.T) {
	dir := t.TempDir()
	spec, in, out := filepath.Join(dir, "s.yaml"), filepath.Join(dir, "in.csv"), filepath.Join(dir, "out")
	os.WriteFile(spec, []byte(idNameSpec+"rejects: {policy: fail}\n"), 0o644)
	os.WriteFile(in, []byte("id,name\n1,a\nx,b\n"), 0o644)
	if code, _, _ := runCLI(t, "run", "--spec", spec, "--input", in, "--output", out, "--quiet"); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if m := readManifest(t, out); m["status"] != "failed" {
		t.Fatalf("manifest %v", m)
	}
	if _, err := os.Stat(filepath.Join(out, "_staging")); !os.IsNotExist(err) {
		t.Fatalf("staging left: %v", err)
	}
	if rows := folderRows(t, out); len(rows) != 0 {
		t.Fatalf("rows after a failed run: %v", rows)
	}
}
