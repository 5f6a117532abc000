package batch_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/adapter/storage/memblob"
	"github.com/sluice-etl/sluice/shared/core/layout"
	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/core/profile"
	"github.com/sluice-etl/sluice/shared/pipeline/batch"
)

const profileSpec = `
version: 1
source: {format: csv}
fields:
  - {name: id, type: int}
  - {name: status}
  - {name: amount, type: decimal, scale: 2}
  - {name: note}
filter: 'status != "drop"'
sink: {format: jsonl, max_rows_per_file: 100}
`

// profileCSV has n rows: status cycles through five values (one of them
// filtered out), amount is empty every tenth row, and note is a quoted,
// multi-line text in every seventh row, so chunk boundaries fall inside
// records.
func profileCSV(n int) []byte {
	var b bytes.Buffer
	b.WriteString("id,status,amount,note\n")
	statuses := []string{"paid", "pending", "refunded", "drop", "paid"}
	for i := range n {
		amount := fmt.Sprintf("%d.%02d", i%500, i%100)
		if i%10 == 9 {
			amount = ""
		}
		note := fmt.Sprintf("note %d", i)
		if i%7 == 3 {
			note = fmt.Sprintf("\"multi\nline %d\"", i)
		}
		fmt.Fprintf(&b, "%d,%s,%s,%s\n", i-1000, statuses[i%5], amount, note)
	}
	return b.Bytes()
}

func readProfile(t *testing.T, out storage.Bucket) *profile.Profile {
	t.Helper()
	data, err := storage.ReadAll(ctx, out, layout.ProfileKey(""))
	if err != nil {
		t.Fatal(err)
	}
	var p profile.Profile
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

// The run's profile is exact where it promises to be, and the same
// whether the file ran as one chunk or as many (realigned) ones.
func TestProfileMergesAcrossChunks(t *testing.T) {
	const n = 3000
	p := mustPlan(t, profileSpec)
	in := memblob.New()
	put(t, in, "p.csv", profileCSV(n))
	var profiles []*profile.Profile
	for _, chunk := range []int64{0, 97, 4096} {
		out := memblob.New()
		m, err := batch.Run(ctx, p, batch.RunOptions{Input: in, Key: "p.csv", Output: out, Parallel: 3, ChunkBytes: chunk, ProfileValues: true})
		if err != nil {
			t.Fatal(err)
		}
		if chunk > 0 && m.Chunks < 2 {
			t.Fatalf("chunk size %d: %d chunks", chunk, m.Chunks)
		}
		pr := readProfile(t, out)
		if pr.Rows != m.Out || pr.RunID != m.RunID {
			t.Fatalf("profile of %d rows for run %s; manifest: %d out, run %s", pr.Rows, pr.RunID, m.Out, m.RunID)
		}
		profiles = append(profiles, pr)
	}
	pr := profiles[0]
	// 3000 rows, 600 filtered: 2400 out. Kept ids are -1000..1999 but
	// those with i%5 == 3; the smallest is -1000, the largest 1999 - 0.
	if pr.Rows != 2400 {
		t.Fatalf("rows = %d", pr.Rows)
	}
	id, status, amount := pr.Column("id"), pr.Column("status"), pr.Column("amount")
	if id.Min() != "-1000" || id.Max() != "1999" || id.Nulls != 0 {
		t.Errorf("id: min %s max %s nulls %d", id.Min(), id.Max(), id.Nulls)
	}
	wantTop := []profile.ValueCount{{Value: "paid", Count: 1200}, {Value: "pending", Count: 600}, {Value: "refunded", Count: 600}}
	if !reflect.DeepEqual(status.Top(), wantTop) {
		t.Errorf("status: top %v", status.Top())
	}
	// Every tenth row has no amount: i%10 == 9 never has i%5 == 3, so all
	// 300 such rows are kept. The largest amount would be 499.99 (i = 499),
	// but that row has none, and 498.98 is filtered (i%5 == 3).
	if amount.Nulls != 300 || amount.Min() != "0.00" || amount.Max() != "497.97" {
		t.Errorf("amount: nulls %d min %s max %s", amount.Nulls, amount.Min(), amount.Max())
	}
	if note := pr.Column("note"); !note.HighCardinality || note.Top() != nil {
		t.Errorf("note: high cardinality %v, top %v", note.HighCardinality, note.Top())
	}
	for i, other := range profiles {
		if a, b := profileJSON(t, pr), profileJSON(t, other); a != b {
			t.Errorf("chunked run %d differs:\n%s\n%s", i, a, b)
		}
		// The distinct estimates: within 5% of the truth, whichever chunks
		// the sketches merged from (sparse sketches are near exact, dense
		// ones estimate).
		for _, c := range []struct {
			name string
			want float64
		}{{"id", 2400}, {"status", 3}, {"note", 2400}, {"amount", float64(distinctAmounts())}} {
			if got := float64(other.Column(c.name).Distinct()); math.Abs(got-c.want) > 0.05*c.want {
				t.Errorf("run %d: %s has %v distinct values, estimated at %v", i, c.name, c.want, got)
			}
		}
	}
}

// distinctAmounts counts the distinct amounts profileCSV(3000) keeps.
func distinctAmounts() int {
	seen := map[string]bool{}
	for i := range 3000 {
		if i%10 != 9 && i%5 != 3 {
			seen[fmt.Sprintf("%d.%02d", i%500, i%100)] = true
		}
	}
	return len(seen)
}

// profileJSON is the profile's JSON without the run id, the sketches and
// their estimates, which depend on the order of insertion and on the
// chunks.
func profileJSON(t *testing.T, p *profile.Profile) string {
	t.Helper()
	q := *p
	q.RunID = ""
	data, err := json.Marshal(&q)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	for _, c := range v["columns"].([]any) {
		delete(c.(map[string]any), "sketch")
		delete(c.(map[string]any), "distinct_estimate")
	}
	out, _ := json.Marshal(v)
	return string(out)
}

// By default the profile holds no record values; the spec's
// report.show_values keeps them, as RunOptions.ProfileValues does.
func TestProfileValuesOnlyWhenAsked(t *testing.T) {
	in := memblob.New()
	put(t, in, "p.csv", profileCSV(50))
	for _, tc := range []struct {
		name   string
		spec   string
		values bool
	}{
		{"default", profileSpec, false},
		{"spec", profileSpec + "report: {show_values: true}\n", true},
	} {
		out := memblob.New()
		if _, err := batch.Run(ctx, mustPlan(t, tc.spec), batch.RunOptions{Input: in, Key: "p.csv", Output: out}); err != nil {
			t.Fatal(err)
		}
		data, err := storage.ReadAll(ctx, out, layout.ProfileKey(""))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(string(data), `"pending"`); got != tc.values {
			t.Errorf("%s: profile holds a status value: %v, want %v\n%s", tc.name, got, tc.values, data)
		}
	}
}

// stagedRun extracts and transforms a CSV of 100 one-line rows in chunks
// of 500 bytes, and returns what Load needs.
func stagedRun(t *testing.T) (*plan.Plan, storage.Bucket, *batch.Job, []*batch.ChunkResult) {
	t.Helper()
	p := mustPlan(t, profileSpec)
	in, staging := memblob.New(), memblob.New()
	var b bytes.Buffer
	b.WriteString("id,status,amount,note\n")
	for i := range 100 {
		fmt.Fprintf(&b, "%d,paid,%d.50,note %d\n", i, i, i)
	}
	put(t, in, "p.csv", b.Bytes())
	job, err := batch.Extract(ctx, in, "p.csv", p, batch.ExtractOptions{ChunkBytes: 500})
	if err != nil {
		t.Fatal(err)
	}
	var results []*batch.ChunkResult
	for _, c := range job.Chunks {
		r, err := batch.Transform(ctx, in, staging, p, job, c, batch.TransformOptions{StagingPrefix: "runs"})
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, r)
	}
	if err := batch.CheckAlignment(job, results); err != nil || len(results) < 3 {
		t.Fatalf("%d chunks: %v", len(results), err)
	}
	return p, staging, job, results
}

func loadStaged(p *plan.Plan, staging, out storage.Bucket, job *batch.Job, results []*batch.ChunkResult) error {
	_, err := batch.NewLoader(staging, out, func(o *batch.LoadOptions) { o.StagingPrefix = "runs" }).Load(ctx, p, job, results)
	return err
}

// A chunk whose staged profile is unreadable fails the load, naming it;
// chunk results from before profiles leave the run without one.
func TestStagedProfiles(t *testing.T) {
	p, staging, job, results := stagedRun(t)
	put(t, staging, results[1].ProfileKey, []byte(`{"profile_version":1,"columns":[`))
	err := loadStaged(p, staging, memblob.New(), job, results)
	if err == nil || !strings.Contains(err.Error(), "chunk 1: read "+results[1].ProfileKey) {
		t.Errorf("corrupt profile: err = %v", err)
	}

	p, staging, job, results = stagedRun(t)
	results[2].ProfileKey = ""
	out := memblob.New()
	if err := loadStaged(p, staging, out, job, results); err != nil {
		t.Fatal(err)
	}
	if _, err := out.Attributes(ctx, layout.ProfileKey("")); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a profile was written from some chunks' profiles: %v", err)
	}
	if left, _ := staging.List(ctx, ""); len(left) != 0 {
		t.Errorf("staging holds %d objects after the load", len(left))
	}
}
