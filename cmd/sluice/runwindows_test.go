package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sluice run computes the spec's windows over the file, in chunks on two
// workers, and they equal a reference computed here.
func TestRunWritesWindows(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	type agg struct{ n, sum, min, max int }
	ref := map[string]*agg{}
	var b strings.Builder
	for i := range 3000 {
		at := t0.Add(time.Duration(i%600) * time.Second)
		page := fmt.Sprintf("/p%d", i%3)
		cents := (i * 37) % 1000
		fmt.Fprintf(&b, `{"event_id":"e%d","user":"u%d","page":%q,"at":%q,"amount_cents":%d}`+"\n", i, i%7, page, at.Format(time.RFC3339), cents)
		k := at.Truncate(time.Minute).Format(time.RFC3339) + " " + page
		a, ok := ref[k]
		if !ok {
			a = &agg{min: 1 << 30}
			ref[k] = a
		}
		a.n++
		a.sum += cents
		a.min, a.max = min(a.min, cents), max(a.max, cents)
	}
	in := filepath.Join(dir, "clicks.jsonl")
	if err := os.WriteFile(in, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	code, stdout, stderr := runCLI(t, "run", "--spec", "../../examples/clicks/spec.yaml", "--input", in, "--output", out, "--parallel", "2", "--chunk-size", "16KiB")
	if code != 0 || !strings.Contains(stdout, "windows:  30 written") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	f, err := os.Open(filepath.Join(out, "_windows.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var w windowJSON
		if err := json.Unmarshal(sc.Bytes(), &w); err != nil {
			t.Fatal(err)
		}
		a := ref[w.Start.Format(time.RFC3339)+" "+w.Key]
		fa := w.Fields["amount_cents"]
		if a == nil || w.Count != int64(a.n) || fa.Sum != float64(a.sum) || fa.Min != float64(a.min) || fa.Max != float64(a.max) {
			t.Fatalf("window %s %s: %+v, want %+v", w.Start, w.Key, w, a)
		}
		got++
	}
	if got != len(ref) {
		t.Fatalf("%d windows, want %d", got, len(ref))
	}
}
