package batch_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/adapter/storage/fileblob"
	"github.com/sluice-etl/sluice/shared/adapter/storage/memblob"
	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/layout"
	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/pipeline/batch"
	"github.com/sluice-etl/sluice/shared/pipeline/output"
)

var ctx = context.Background()

func mustPlan(t testing.TB, src string) *plan.Plan {
	t.Helper()
	p, err := plan.FromBytes("test.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func put(t testing.TB, b storage.Bucket, key string, data []byte) {
	t.Helper()
	if err := storage.WriteAll(ctx, b, key, data); err != nil {
		t.Fatal(err)
	}
}

// outputRows returns the rows of every published part, in key order.
func outputRows(t testing.TB, b storage.Bucket, m *output.Manifest) []string {
	t.Helper()
	var rows []string
	for _, p := range m.Parts {
		data, err := storage.ReadAll(ctx, b, p.Key)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
		if int64(len(lines)) != p.Records {
			t.Fatalf("%s has %d lines, manifest says %d", p.Key, len(lines), p.Records)
		}
		rows = append(rows, lines...)
	}
	return rows
}

func rejects(t testing.TB, b storage.Bucket, m *output.Manifest) []output.RejectRecord {
	t.Helper()
	var out []output.RejectRecord
	for _, p := range m.Rejects {
		rr, err := output.ReadRejects(ctx, b, p.Key)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rr...)
	}
	return out
}

func TestOrdersExample(t *testing.T) {
	p, err := plan.FromFile("../../../examples/orders/spec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	in, err := fileblob.New("../../../examples/orders")
	if err != nil {
		t.Fatal(err)
	}
	out := memblob.New()
	m, err := batch.Run(ctx, p, batch.RunOptions{Input: in, Key: "orders.csv", Output: out})
	if err != nil {
		t.Fatal(err)
	}
	if m.In != 25 || m.Out != 10 || m.Rejected != 12 || m.Filtered != 3 {
		t.Fatalf("counts in=%d out=%d rejected=%d filtered=%d, want 25/10/12/3", m.In, m.Out, m.Rejected, m.Filtered)
	}
	wantRules := map[string]int64{"amount.min": 1, "amount.type": 2, "check:refund_has_amount": 1, "country.length": 1,
		"created_at.type": 1, "currency.enum": 1, "customer_id.type": 1, "decode": 1, "email.regex": 1, "email.required": 1, "status.enum": 1}
	if fmt.Sprint(m.RejectedByRule) != fmt.Sprint(wantRules) {
		t.Errorf("rejected_by_rule = %v\nwant %v", m.RejectedByRule, wantRules)
	}
	if fmt.Sprint(m.FilteredByReason) != fmt.Sprint(map[string]int64{"dedup": 1, "filter:not_cancelled": 2}) {
		t.Errorf("filtered_by_reason = %v", m.FilteredByReason)
	}
	var parts []string
	for _, p := range m.Parts {
		parts = append(parts, fmt.Sprintf("%s:%d", path.Dir(p.Key), p.Records))
	}
	if got := strings.Join(parts, " "); got != "dt=2026-11-01:3 dt=2026-11-02:2 dt=2026-11-03:5" {
		t.Errorf("parts = %s", got)
	}
	rows := outputRows(t, out, m)
	if rows[1] != `{"order_id":1002,"customer_id":502,"email":"bob.smith@example.com","amount":250.00,"currency":"USD","status":"paid","country":"GB","created_at":"2026-11-01T10:02:33.000000Z","amount_cents":25000,"large_order":false}` {
		t.Errorf("row 2 = %s", rows[1])
	}
	// Row 1015 has a quoted line break; 1006 got the default currency; 1014
	// had N/A as country.
	for _, want := range []string{`"order_id":1015,`, `"order_id":1006,"customer_id":506,"email":"erin@example.com","amount":75.25,"currency":"USD"`, `"order_id":1014,"customer_id":514,"email":"niaj@example.com","amount":33.30,"currency":"EUR","status":"paid","country":null`} {
		if !strings.Contains(strings.Join(rows, "\n"), want) {
			t.Errorf("output lacks %s", want)
		}
	}
	rr := rejects(t, out, m)
	if len(rr) != 12 {
		t.Fatalf("%d rejects, want 12", len(rr))
	}
	// Line 19 follows the two-line record at lines 17-18.
	byLine := map[int64]output.RejectRecord{}
	for _, r := range rr {
		byLine[r.Line] = r
	}
	r := byLine[19]
	if r.Record != 17 || r.Field != "created_at" || r.Rule != "type" || !strings.HasPrefix(r.Raw, "1016,516,") || r.Source != "orders.csv" {
		t.Errorf("reject at line 19 = %+v", r)
	}
	if d := byLine[21]; d.Rule != "decode" || d.Reason != "wrong number of columns: want 9, got 7" {
		t.Errorf("reject at line 21 = %+v", d)
	}
	for _, name := range []string{layout.ManifestName, layout.SuccessName} {
		if _, err := out.Attributes(ctx, name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if objs, _ := out.List(ctx, "_staging/"); len(objs) != 0 {
		t.Errorf("staging left behind: %v", objs)
	}
}

// quotedCSV makes n rows where every 7th has a quoted line break and every
// 13th is invalid, so chunk boundaries fall inside quoted fields too.
func quotedCSV(n int) []byte {
	var b bytes.Buffer
	b.WriteString("id,name,amount\n")
	for i := range n {
		switch {
		case i%13 == 5:
			fmt.Fprintf(&b, "%d,bad%d,not-a-number\n", i, i)
		case i%7 == 3:
			fmt.Fprintf(&b, "%d,\"multi\nline, \"\"quoted\"\" %d\",%d.5\n", i, i, i)
		default:
			fmt.Fprintf(&b, "%d,name %d,%d.25\n", i, i, i)
		}
	}
	return b.Bytes()
}

const quotedSpec = `
version: 1
source: {format: csv}
fields:
  - {name: id, type: int}
  - {name: name}
  - {name: amount, type: float}
sink: {format: jsonl, max_rows_per_file: 150}
`

func TestParallelChunksMatchSequential(t *testing.T) {
	p := mustPlan(t, quotedSpec)
	data := quotedCSV(3000)
	in := memblob.New()
	put(t, in, "q.csv", data)

	seqOut := memblob.New()
	seq, err := batch.Run(ctx, p, batch.RunOptions{Input: in, Key: "q.csv", Output: seqOut})
	if err != nil {
		t.Fatal(err)
	}
	if seq.Chunks != 1 {
		t.Fatalf("sequential run used %d chunks", seq.Chunks)
	}
	wantRej := int64(0)
	for i := range 3000 {
		if i%13 == 5 {
			wantRej++
		}
	}
	if seq.In != 3000 || seq.Rejected != wantRej || seq.Out != 3000-wantRej {
		t.Fatalf("sequential counts %d/%d/%d", seq.In, seq.Out, seq.Rejected)
	}
	for _, chunk := range []int64{97, 1000, 4096} {
		parOut := memblob.New()
		par, err := batch.Run(ctx, p, batch.RunOptions{Input: in, Key: "q.csv", Output: parOut, Parallel: 4, ChunkBytes: chunk})
		if err != nil {
			t.Fatal(err)
		}
		if par.Chunks < 2 {
			t.Fatalf("chunk %d: only %d chunks", chunk, par.Chunks)
		}
		if par.In != seq.In || par.Out != seq.Out || par.Rejected != seq.Rejected {
			t.Fatalf("chunk %d: counts %d/%d/%d differ from sequential", chunk, par.In, par.Out, par.Rejected)
		}
		if a, b := strings.Join(outputRows(t, seqOut, seq), "\n"), strings.Join(outputRows(t, parOut, par), "\n"); a != b {
			t.Fatalf("chunk %d: output differs from the sequential run", chunk)
		}
		sr, pr := rejects(t, seqOut, seq), rejects(t, parOut, par)
		for i := range sr {
			sr[i].Chunk, pr[i].Chunk = 0, 0
		}
		if fmt.Sprint(sr) != fmt.Sprint(pr) {
			t.Fatalf("chunk %d: rejects differ:\n%v\n%v", chunk, sr[:2], pr[:2])
		}
	}
}

func TestRerunOverwritesAndRemovesStale(t *testing.T) {
	p := mustPlan(t, quotedSpec)
	in, out := memblob.New(), memblob.New()
	put(t, in, "q.csv", quotedCSV(1000))
	first, err := batch.Run(ctx, p, batch.RunOptions{Input: in, Key: "q.csv", Output: out, Parallel: 2, ChunkBytes: 2000})
	if err != nil {
		t.Fatal(err)
	}
	second, err := batch.Run(ctx, p, batch.RunOptions{Input: in, Key: "q.csv", Output: out})
	if err != nil {
		t.Fatal(err)
	}
	if first.RunID != second.RunID {
		t.Fatalf("run ids differ: %s %s", first.RunID, second.RunID)
	}
	objs, err := out.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var dataRows int64
	for _, o := range objs {
		if strings.HasPrefix(path.Base(o.Key), "part-") && !strings.HasPrefix(o.Key, "rejects/") {
			data, _ := storage.ReadAll(ctx, out, o.Key)
			dataRows += int64(bytes.Count(data, []byte("\n")))
		}
	}
	if dataRows != second.Out {
		t.Fatalf("%d data rows in the bucket after two runs, want %d (no duplicates)", dataRows, second.Out)
	}
}

func TestRejectPolicyFail(t *testing.T) {
	p := mustPlan(t, quotedSpec+"rejects: {policy: fail}\n")
	in, out := memblob.New(), memblob.New()
	put(t, in, "q.csv", quotedCSV(100))
	m, err := batch.Run(ctx, p, batch.RunOptions{Input: in, Key: "q.csv", Output: out})
	var re *batch.RejectError
	if !errors.As(err, &re) || re.Line != 8 || re.Rule != "amount.type" {
		t.Fatalf("err = %v, want a RejectError at line 8", err)
	}
	if m.Status != output.StatusFailed || len(m.Parts) != 0 {
		t.Fatalf("manifest status %s with %d parts", m.Status, len(m.Parts))
	}
	assertNoSuccess(t, out)
}

func assertNoSuccess(t *testing.T, out storage.Bucket) {
	t.Helper()
	if _, err := out.Attributes(ctx, layout.SuccessName); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("_SUCCESS exists after a failed run: %v", err)
	}
	objs, _ := out.List(ctx, "")
	for _, o := range objs {
		if strings.HasSuffix(o.Key, ".jsonl") && !strings.HasPrefix(o.Key, "rejects/") {
			t.Errorf("data object %s after a failed run", o.Key)
		}
	}
}

func TestMaxRejectRatio(t *testing.T) {
	p := mustPlan(t, quotedSpec+"rejects: {max_ratio: 0.05}\n")
	in, out := memblob.New(), memblob.New()
	put(t, in, "q.csv", quotedCSV(130)) // 10 of 130 rejected: 7.7%
	m, err := batch.Run(ctx, p, batch.RunOptions{Input: in, Key: "q.csv", Output: out})
	if !errors.Is(err, nil) && !strings.Contains(err.Error(), "reject ratio over") {
		t.Fatalf("err = %v", err)
	}
	if err == nil || m.Status != output.StatusFailed || m.Rejected != 10 || m.In != 130 || len(m.Rejects) != 1 {
		t.Fatalf("err=%v status=%s in=%d rejected=%d reject files=%d", err, m.Status, m.In, m.Rejected, len(m.Rejects))
	}
	assertNoSuccess(t, out)
	if rr := rejects(t, out, m); len(rr) != 10 {
		t.Fatalf("%d published rejects, want 10", len(rr))
	}
}

func compress(t testing.TB, kind string, data []byte) []byte {
	var b bytes.Buffer
	var w io.WriteCloser
	switch kind {
	case "gzip":
		w = gzip.NewWriter(&b)
	case "zstd":
		zw, err := zstd.NewWriter(&b)
		if err != nil {
			t.Fatal(err)
		}
		w = zw
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestCompressedAndJSONInputsMatchPlain(t *testing.T) {
	p := mustPlan(t, strings.Replace(quotedSpec, "format: csv", "format: auto", 1))
	data := quotedCSV(500)
	in := memblob.New()
	put(t, in, "plain.csv", data)
	put(t, in, "g.csv.gz", compress(t, "gzip", data))
	put(t, in, "z.bin", compress(t, "zstd", data))
	base := memblob.New()
	want, err := batch.Run(ctx, p, batch.RunOptions{Input: in, Key: "plain.csv", Output: base})
	if err != nil {
		t.Fatal(err)
	}
	wantRows := strings.Join(outputRows(t, base, want), "\n")
	for key, comp := range map[string]codec.Compression{"g.csv.gz": codec.Gzip, "z.bin": codec.Zstd} {
		out := memblob.New()
		m, err := batch.Run(ctx, p, batch.RunOptions{Input: in, Key: key, Output: out, Parallel: 2, ChunkBytes: 1000})
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if m.Compression != string(comp) || m.Format != "csv" || m.Chunks != 1 {
			t.Errorf("%s: compression %s format %s chunks %d", key, m.Compression, m.Format, m.Chunks)
		}
		if got := strings.Join(outputRows(t, out, m), "\n"); got != wantRows || m.Rejected != want.Rejected {
			t.Errorf("%s: output differs from plain input", key)
		}
	}
	// The same rows as JSON Lines and as a JSON array.
	var jl, ja bytes.Buffer
	ja.WriteString("[")
	for i, row := range outputRows(t, base, want) {
		jl.WriteString(row + "\n")
		if i > 0 {
			ja.WriteString(",\n")
		}
		ja.WriteString(row)
	}
	ja.WriteString("]")
	put(t, in, "rows.jsonl", jl.Bytes())
	put(t, in, "rows.json", ja.Bytes())
	for _, key := range []string{"rows.jsonl", "rows.json"} {
		out := memblob.New()
		m, err := batch.Run(ctx, p, batch.RunOptions{Input: in, Key: key, Output: out})
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if got := strings.Join(outputRows(t, out, m), "\n"); got != wantRows || m.Rejected != 0 {
			t.Errorf("%s: rows differ or rejects %d", key, m.Rejected)
		}
	}
}

func TestTruncatedGzipFailsClearly(t *testing.T) {
	p := mustPlan(t, quotedSpec)
	gz := compress(t, "gzip", quotedCSV(2000))
	in, out := memblob.New(), memblob.New()
	put(t, in, "cut.csv.gz", gz[:len(gz)/2])
	m, err := batch.Run(ctx, p, batch.RunOptions{Input: in, Key: "cut.csv.gz", Output: out})
	if !errors.Is(err, codec.ErrTruncated) {
		t.Fatalf("err = %v, want ErrTruncated", err)
	}
	if m == nil {
		t.Fatalf("no manifest; err = %v", err)
	}
	if m.Status != output.StatusFailed || !strings.Contains(m.Error, "truncated") {
		t.Fatalf("manifest %s: %s", m.Status, m.Error)
	}
	if m.In != m.Out+m.Rejected+m.Filtered {
		t.Fatalf("accounting does not hold: %+v", m.Counts)
	}
	assertNoSuccess(t, out)
}

func TestParquetPartitionsAndRollover(t *testing.T) {
	p := mustPlan(t, `
version: 1
source: {format: csv}
fields:
  - {name: id, type: int}
  - {name: at, type: timestamp}
  - {name: day, from: at, type: date}
  - {name: price, type: decimal, scale: 2}
  - {name: ok, type: bool}
  - {name: name}
sink:
  format: parquet
  partition_by: [{key: dt, field: at}]
  max_rows_per_file: 2
`)
	in, out := memblob.New(), memblob.New()
	put(t, in, "p.csv", []byte("id,at,price,ok,name\n1,2026-01-01T10:00:00Z,1.50,true,a\n2,2026-01-01T11:00:00.123456Z,2.00,false,b\n3,2026-01-01T12:00:00Z,3.25,yes,\n4,2026-01-02T00:00:00Z,,no,d\n"))
	m, err := batch.Run(ctx, p, batch.RunOptions{Input: in, Key: "p.csv", Output: out})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, part := range m.Parts {
		keys = append(keys, fmt.Sprintf("%s:%d", part.Key[:len("dt=2026-01-01/part-")]+part.Key[len(part.Key)-13:], part.Records))
	}
	if got := strings.Join(keys, " "); got != "dt=2026-01-01/part-00000.parquet:2 dt=2026-01-01/part-00001.parquet:1 dt=2026-01-02/part-00000.parquet:1" {
		t.Fatalf("parts = %s", got)
	}
	data, err := storage.ReadAll(ctx, out, m.Parts[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if n := f.NumRows(); n != 2 {
		t.Fatalf("rows = %d", n)
	}
	type row struct {
		ID    *int64  `parquet:"id"`
		At    *int64  `parquet:"at"`
		Price *int64  `parquet:"price"`
		OK    *bool   `parquet:"ok"`
		Name  *string `parquet:"name"`
		Day   *int32  `parquet:"day"`
	}
	rows, err := parquet.Read[row](bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if *rows[1].At != 1767265200123456 || *rows[1].Price != 200 || *rows[1].OK || *rows[1].Name != "b" || *rows[1].Day != 20454 {
		t.Fatalf("row 2 = id %d at %d price %d ok %v name %s day %d", *rows[1].ID, *rows[1].At, *rows[1].Price, *rows[1].OK, *rows[1].Name, *rows[1].Day)
	}
	at, _ := f.Schema().Lookup("at")
	if lt := at.Node.Type().LogicalType(); lt == nil || lt.String() != "TIMESTAMP(isAdjustedToUTC=true,unit=MICROS)" {
		t.Fatalf("timestamp logical type = %v", lt)
	}
}

func TestFileOutputLayout(t *testing.T) {
	p := mustPlan(t, quotedSpec)
	dir := t.TempDir()
	in, _ := fileblob.New(dir + "/in")
	out, _ := fileblob.New(dir + "/out")
	put(t, in, "q.csv", quotedCSV(400))
	m, err := batch.Run(ctx, p, batch.RunOptions{Input: in, Key: "q.csv", Output: out, Parallel: 2, ChunkBytes: 3000})
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir + "/out")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != len(m.Parts)+5 || !slices.Contains(names, layout.SourcesDir) || !slices.Contains(names, layout.ProfileName) { // parts, rejects/, _sources/, _manifest.json, _profile.json, _SUCCESS
		t.Fatalf("output dir holds %v for %d parts", names, len(m.Parts))
	}
	var mf output.Manifest
	data, _ := os.ReadFile(dir + "/out/_manifest.json")
	if err := json.Unmarshal(data, &mf); err != nil {
		t.Fatal(err)
	}
	if mf.In != 400 || mf.In != mf.Out+mf.Rejected+mf.Filtered || mf.Chunks != m.Chunks {
		t.Fatalf("manifest on disk: %+v", mf.Counts)
	}
}

// memTable is an in-memory TableWriter keyed like a DynamoDB table.
type memTable struct {
	key   string
	items map[string]map[string]any
	calls int
}

func (m *memTable) Upsert(_ context.Context, rows []map[string]any) error {
	m.calls++
	for _, r := range rows {
		m.items[fmt.Sprint(r[m.key])] = r
	}
	return nil
}

func TestDynamoDBSinkUpsertsIdempotently(t *testing.T) {
	p := mustPlan(t, `
version: 1
source: {format: csv}
fields:
  - {name: id, type: int, required: true}
  - {name: name}
  - {name: amount, type: float}
sink: {format: dynamodb, table: orders, key: [id]}
`)
	in, out := memblob.New(), memblob.New()
	var b strings.Builder
	b.WriteString("id,name,amount\n")
	for i := range 1200 {
		fmt.Fprintf(&b, "%d,n%d,%d.5\n", i%1000, i, i)
	}
	b.WriteString("x,bad,1\n")
	put(t, in, "o.csv", []byte(b.String()))
	table := &memTable{key: "id", items: map[string]map[string]any{}}
	for range 2 { // a rerun upserts the same items again
		m, err := batch.Run(ctx, p, batch.RunOptions{Input: in, Key: "o.csv", Output: out, Table: table})
		if err != nil {
			t.Fatal(err)
		}
		if m.In != 1201 || m.Out != 1200 || m.Rejected != 1 || len(m.Parts) != 1 || m.Parts[0].Key != "dynamodb:orders" {
			t.Fatalf("manifest %+v parts %v", m.Counts, m.Parts)
		}
	}
	if len(table.items) != 1000 || table.calls != 6 {
		t.Fatalf("%d items after %d calls, want 1000 after 6 (3 batches of at most 500 per run)", len(table.items), table.calls)
	}
	if got := table.items["5"]; fmt.Sprintf("%v %v", got["name"], got["amount"]) != "n1005 1005.5" {
		t.Fatalf("item 5 = %v (the later row must win)", got)
	}
	if objs, _ := out.List(ctx, ""); len(objs) != 4 { // manifest, profile, _SUCCESS, rejects
		t.Fatalf("output bucket holds %v", objs)
	}
}
