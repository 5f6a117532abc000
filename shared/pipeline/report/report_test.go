package report_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/adapter/storage/memblob"
	"github.com/sluice-etl/sluice/shared/core/layout"
	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/core/profile"
	"github.com/sluice-etl/sluice/shared/core/record"
	"github.com/sluice-etl/sluice/shared/pipeline/batch"
	"github.com/sluice-etl/sluice/shared/pipeline/output"
	"github.com/sluice-etl/sluice/shared/pipeline/report"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var ctx = context.Background()

// runOrders runs the orders example into a new in-memory bucket, at a
// known times, and returns the bucket and the manifest.
func runOrders(t *testing.T, profileValues bool) (storage.Bucket, *output.Manifest) {
	t.Helper()
	p, err := plan.FromFile("../../../examples/orders/spec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("../../../examples/orders/orders.csv")
	if err != nil {
		t.Fatal(err)
	}
	in, out := memblob.NewNamed("in"), memblob.NewNamed("out")
	if err := storage.WriteAll(ctx, in, "orders.csv", data); err != nil {
		t.Fatal(err)
	}
	// A clock that moves 1.5 ms at each reading: the stages take known,
	// non-zero times.
	var mu sync.Mutex
	at := time.Date(2026, 11, 4, 6, 0, 0, 0, time.UTC)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		at = at.Add(1500 * time.Microsecond)
		return at
	}
	m, err := batch.Run(ctx, p, batch.RunOptions{Input: in, Key: "orders.csv", Output: out, ProfileValues: profileValues, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	return out, m
}

func load(t *testing.T, b storage.Bucket, show bool) *report.Report {
	t.Helper()
	r, err := report.Load(ctx, b, layout.ManifestKey(""), show)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The JSON twin of the orders example, pinned.
func TestOrdersGolden(t *testing.T) {
	out, _ := runOrders(t, false)
	got, err := load(t, out, false).JSON()
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "orders.report.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("report differs from %s (go test -update rewrites it):\n%s", golden, got)
	}
}

// Every figure of the twin is the manifest's: the accounting, the rules
// and reasons, the files and partitions, the stages.
func TestTwinFiguresEqualManifest(t *testing.T) {
	out, m := runOrders(t, false)
	data, err := load(t, out, false).JSON()
	if err != nil {
		t.Fatal(err)
	}
	var r report.Report
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	f := r.Flow
	if f.In != m.In || f.Out != m.Out || f.Rejected != m.Rejected || f.Filtered != m.Filtered || f.RejectRatio != m.RejectRatio {
		t.Errorf("flow %+v, manifest %+v", f, m.Counts)
	}
	if got := countMap(f.RejectedByRule); !maps.Equal(got, m.RejectedByRule) {
		t.Errorf("rejected by rule %v, manifest %v", got, m.RejectedByRule)
	}
	if got := countMap(f.FilteredByReason); !maps.Equal(got, m.FilteredByReason) {
		t.Errorf("filtered by reason %v, manifest %v", got, m.FilteredByReason)
	}
	parts := map[string]output.Part{}
	for _, p := range m.Parts {
		s := parts[p.Partition]
		s.Records, s.Bytes = s.Records+p.Records, s.Bytes+p.Bytes
		parts[p.Partition] = s
	}
	if len(r.Partitions) != len(parts) {
		t.Errorf("%d partitions, manifest has %d", len(r.Partitions), len(parts))
	}
	for _, p := range r.Partitions {
		if w := parts[p.Partition]; p.Records != w.Records || p.Bytes != w.Bytes {
			t.Errorf("partition %s: %d rows %d bytes, manifest %d rows %d bytes", p.Partition, p.Records, p.Bytes, w.Records, w.Bytes)
		}
	}
	if r.Files.Count != len(m.Parts) || r.Files.Records != m.Out || r.Files.Bytes != m.BytesOut || r.Rejects.Count != len(m.Rejects) || r.Rejects.Records != m.Rejected {
		t.Errorf("files %+v, rejects %+v; manifest %d parts, %d bytes, %d reject files", r.Files, r.Rejects, len(m.Parts), m.BytesOut, len(m.Rejects))
	}
	stages := map[string]output.StageStats{}
	for _, s := range r.Stages {
		stages[s.Name] = output.StageStats{DurationMS: s.DurationMS, Records: s.Records, Bytes: s.Bytes}
	}
	if !maps.Equal(stages, m.Stages) {
		t.Errorf("stages %v, manifest %v", stages, m.Stages)
	}
	if r.Profile == nil || r.Profile.Rows != m.Out || r.RunID != m.RunID || r.Status != m.Status {
		t.Errorf("profile %+v of run %s (%s); manifest %s (%s), %d out", r.Profile, r.RunID, r.Status, m.RunID, m.Status, m.Out)
	}
}

func countMap(cs []report.Count) map[string]int64 {
	m := map[string]int64{}
	for _, c := range cs {
		m[c.Name] = c.Count
	}
	return m
}

// render is the report's page and twin as text.
func render(t *testing.T, r *report.Report) (string, string) {
	t.Helper()
	var page bytes.Buffer
	if err := r.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	twin, err := r.JSON()
	if err != nil {
		t.Fatal(err)
	}
	return page.String(), string(twin)
}

// Record values appear only with show values, and top values only when
// the run kept them.
func TestValuesOnlyWhenShown(t *testing.T) {
	// An output row's email, a low-cardinality column's value, the raw
	// text of a rejected row, and the latest created_at (a column's max).
	values := []string{"alice@example.com", "GBP", "not-an-email", "2026-11-03T15:00:00.000000Z"}
	for _, tc := range []struct {
		name         string
		kept, shown  bool
		want         []string
		wantNote     bool
		wantSamples  int
		wantTopEmail bool
	}{
		{name: "default", kept: false, shown: false},
		{name: "kept, not shown", kept: true, shown: false},
		{name: "shown, not kept", kept: false, shown: true, want: values[2:], wantNote: true, wantSamples: report.MaxSamples},
		{name: "kept and shown", kept: true, shown: true, want: values, wantSamples: report.MaxSamples, wantTopEmail: true},
	} {
		out, _ := runOrders(t, tc.kept)
		r := load(t, out, tc.shown)
		page, twin := render(t, r)
		for _, v := range values {
			want := strings.Contains(strings.Join(tc.want, " "), v)
			for what, text := range map[string]string{"page": page, "twin": twin} {
				if got := strings.Contains(text, v); got != want {
					t.Errorf("%s: %s holds %q: %v, want %v", tc.name, what, v, got, want)
				}
			}
		}
		if got := strings.Contains(page, "did not keep them"); got != tc.wantNote {
			t.Errorf("%s: note that values were not kept: %v", tc.name, got)
		}
		if len(r.Samples) != tc.wantSamples {
			t.Errorf("%s: %d samples, want %d", tc.name, len(r.Samples), tc.wantSamples)
		}
		if tc.wantSamples > 0 && (r.Samples[0].Line != 5 || r.Samples[0].Field != "email" || r.Samples[0].Rule != "regex") {
			t.Errorf("%s: first sample %+v", tc.name, r.Samples[0])
		}
	}
}

// Every value is escaped: a value that is markup shows as text.
func TestPageEscapes(t *testing.T) {
	r := report.Build(&output.Manifest{RunID: "r1", Status: output.StatusSucceeded,
		Source: output.Source{Key: `<img src=x onerror=alert(1)>.csv`}, Parts: []output.Part{{Partition: `p=<b>`, Records: 1, Bytes: 1}}},
		nil, report.Options{ShowValues: true, Samples: []output.RejectRecord{{Rule: "decode", Raw: `</td><script>alert(2)</script>`}}})
	page, _ := render(t, r)
	for _, bad := range []string{"<img", "<script", "<b>"} {
		if strings.Contains(page, bad) {
			t.Errorf("page holds %q unescaped", bad)
		}
	}
	for _, good := range []string{"&lt;img src=x onerror=alert(1)&gt;.csv", "&lt;/td&gt;&lt;script&gt;alert(2)&lt;/script&gt;", "p=&lt;b&gt;"} {
		if !strings.Contains(page, good) {
			t.Errorf("page lacks %q", good)
		}
	}
	if strings.Contains(page, "ZgotmplZ") {
		t.Error("the template refused a value (ZgotmplZ)")
	}
}

// The page is self-contained: no scripts, no external assets.
func TestPageSelfContained(t *testing.T) {
	out, _ := runOrders(t, true)
	page, _ := render(t, load(t, out, true))
	for _, bad := range []string{"<script", "<link", "src=", "http://", "https://", "url(", "@import"} {
		if strings.Contains(page, bad) {
			t.Errorf("page holds %q", bad)
		}
	}
	for _, want := range []string{`id="records-in">25<`, `id="records-out">10<`, `id="records-rejected">12<`, `id="records-filtered">3<`, "<code>email.regex</code>", "dt=2026-11-03"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// A profile left by another run of the same folder is not shown.
func TestProfileOfAnotherRun(t *testing.T) {
	out, m := runOrders(t, false)
	data, err := storage.ReadAll(ctx, out, layout.ProfileKey(""))
	if err != nil {
		t.Fatal(err)
	}
	stale := strings.Replace(string(data), m.RunID, "0000000000000000", 1)
	if err := storage.WriteAll(ctx, out, layout.ProfileKey(""), []byte(stale)); err != nil {
		t.Fatal(err)
	}
	r := load(t, out, false)
	if r.Profile != nil || len(r.Notes) == 0 || !strings.Contains(r.Notes[0], "not of run "+m.RunID) {
		t.Errorf("profile %v, notes %q", r.Profile, r.Notes)
	}
	if err := out.Delete(ctx, layout.ProfileKey("")); err != nil {
		t.Fatal(err)
	}
	if r := load(t, out, false); r.Profile != nil || !strings.Contains(strings.Join(r.Notes, " "), "no column profile") {
		t.Errorf("without a profile: notes %q", r.Notes)
	}
}

func TestLoadErrors(t *testing.T) {
	b := memblob.New()
	for _, tc := range []struct{ name, key, body, want string }{
		{"missing", "none/_manifest.json", "", "read manifest none/_manifest.json: "},
		{"not json", "bad/_manifest.json", "{", "read manifest bad/_manifest.json: unexpected end of JSON input"},
		{"no run", "empty/_manifest.json", "{}", "names no run: not a sluice manifest"},
		{"bad profile", "p/_manifest.json", `{"run_id":"r"}`, "read profile p/_profile.json: "},
	} {
		if tc.body != "" {
			if err := storage.WriteAll(ctx, b, tc.key, []byte(tc.body)); err != nil {
				t.Fatal(err)
			}
		}
		if tc.name == "bad profile" {
			if err := storage.WriteAll(ctx, b, "p/_profile.json", []byte(`{"profile_version":7}`)); err != nil {
				t.Fatal(err)
			}
		}
		_, err := report.Load(ctx, b, tc.key, false)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestTwinPath(t *testing.T) {
	for in, want := range map[string]string{"out.html": "out.json", "a.b/report": "a.b/report.json", "x/_report.html": "x/_report.json"} {
		if got := report.TwinPath(in); got != want {
			t.Errorf("TwinPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// The page lists at most MaxTopRows top values per column and
// MaxPartitionRows partitions; the twin lists them all.
func TestPageLimits(t *testing.T) {
	sch := &record.Schema{Fields: []record.Field{{Name: "s", Kind: record.String}}}
	p := profile.New(sch, profile.Options{Values: true})
	for i := range report.MaxTopRows + 2 {
		for range i + 1 {
			p.Observe([]record.Value{record.StringValue(fmt.Appendf(nil, "value-%02d", i))})
		}
	}
	m := &output.Manifest{RunID: "r1", Status: output.StatusSucceeded}
	for i := range report.MaxPartitionRows + 3 {
		m.Parts = append(m.Parts, output.Part{Partition: fmt.Sprintf("n=%04d", i), Records: 1, Bytes: 10})
	}
	p.RunID = m.RunID
	r := report.Build(m, p, report.Options{ShowValues: true})
	page, twin := render(t, r)
	for _, tc := range []struct {
		text           string
		inPage, inTwin bool
	}{
		{"value-11", true, true}, // the most frequent
		{"value-02", true, true},
		{"value-01", false, true},
		{"and 2 more", true, false},
		{"n=0499", true, true},
		{"n=0500", false, true},
		{"and 3 more partitions", true, false},
	} {
		if got := strings.Contains(page, tc.text); got != tc.inPage {
			t.Errorf("page holds %q: %v", tc.text, got)
		}
		if got := strings.Contains(twin, tc.text); got != tc.inTwin {
			t.Errorf("twin holds %q: %v", tc.text, got)
		}
	}
}
