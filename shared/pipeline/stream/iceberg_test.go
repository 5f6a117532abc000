package stream_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-etl/sluice/internal/lakeread"
	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/adapter/table/icebergtable"
	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/core/window"
	"github.com/sluice-etl/sluice/shared/pipeline/stream"
)

// An iceberg sink without its table is refused instead of publishing
// files no table names.
func TestIcebergSinkNeedsItsTable(t *testing.T) {
	p, err := plan.FromBytes("t.yaml", []byte("name: kv\nsource: {format: json}\nfields: [{name: event_id, required: true}]\nsink: {format: iceberg}\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv()
	_, err = stream.New(stream.Config{Plan: p, Staging: e.staging, Out: e.out, StagingPrefix: "staging", OutPrefix: "out", Store: e.store})
	if !errors.Is(err, stream.ErrNoLake) {
		t.Errorf("New = %v, want ErrNoLake", err)
	}
}

// lakeSpec is the clicks example with an iceberg sink on the local
// catalog and the given commit policy.
func lakePlan(t *testing.T, policy string) *plan.Plan {
	t.Helper()
	src := `
name: clicks
source: {format: jsonl}
fields:
  - {name: event_id, required: true}
  - {name: user, required: true, clean: [trim, lower]}
  - {name: page, required: true, rules: {regex: '^/'}}
  - {name: at, type: timestamp, required: true}
  - {name: amount_cents, type: int, clean: [{default: "0"}], rules: {min: 0}}
filter:
  - {name: not_bot, expr: '!(user startsWith "bot-")'}
sink:
  format: iceberg
  table: {namespace: web, name: clicks}
  partition_by: [{key: at_hour, field: at, transform: hour}]
stream: ` + policy + "\n"
	p, err := plan.FromBytes("clicks.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// lakeEnv is a stream pipeline onto a table in a local catalog, with a
// clock the test moves.
type lakeEnv struct {
	*env
	table *icebergtable.Table
	root  string
	now   time.Time
	pl    *stream.Pipeline
	store window.Store
}

func newLakeEnv(t *testing.T, policy string, store func(window.Store) window.Store) *lakeEnv {
	t.Helper()
	ctx := context.Background()
	p := lakePlan(t, policy)
	root := t.TempDir()
	tbl, err := icebergtable.New(ctx, icebergtable.Location{Root: root}, p.Spec, &p.Out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tbl.Close() })
	if err := tbl.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	e := &lakeEnv{env: newEnv(), table: tbl, root: root, now: t0}
	e.store = e.env.store
	if store != nil {
		e.store = store(e.env.store)
	}
	e.pl, err = stream.New(stream.Config{Plan: p, Staging: e.staging, Out: e.out, StagingPrefix: "staging", OutPrefix: "out",
		Store: e.store, Now: func() time.Time { return e.now }, Nonce: func() string { e.nonce++; return fmt.Sprint(e.nonce) }, Lake: tbl})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// batch is five clicks, records 5b+1 to 5b+5, one a bot (filtered) and
// one with a bad page (quarantined).
func batch(b int) []stream.Message {
	var msgs []stream.Message
	for i := 5*b + 1; i <= 5*b+5; i++ {
		user, page := "ann", "/p"
		switch i % 5 {
		case 3:
			user = "bot-1"
		case 4:
			page = "nope"
		}
		msgs = append(msgs, click(i, user, page, i, i))
	}
	return msgs
}

func (e *lakeEnv) apply(t *testing.T, b int) stream.Result {
	t.Helper()
	res, err := e.pl.Apply(context.Background(), shard, batch(b))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (e *lakeEnv) history(t *testing.T) []icebergtable.SnapshotInfo {
	t.Helper()
	c, err := icebergtable.OpenCatalog(e.root)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	h, err := c.History(context.Background(), "web.clicks")
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// Ten batches, three seconds apart, with a 10s commit interval: the
// table gets two commits, not ten, each naming the shard's sequence
// range; a replayed batch adds nothing; icebird reads every kept record
// once.
func TestIcebergStreamCommitsAtABoundedRate(t *testing.T) {
	e := newLakeEnv(t, "{commit_interval: 10s, commit_files: 1000}", nil)
	var committed int
	for b := range 10 {
		res := e.apply(t, b)
		committed += res.Committed
		e.now = e.now.Add(3 * time.Second)
	}
	if again := e.apply(t, 4); again.New != 0 || again.Committed != 0 {
		t.Fatalf("replayed batch: %+v", again)
	}
	h := e.history(t)
	// Held since 0s: committed at 12s (batches 0-4); held since 15s:
	// committed at 27s (batches 5-9).
	if len(h) != 2 || committed != 10 {
		t.Fatalf("%d snapshots, %d files committed; want 2 and 10: %+v", len(h), committed, h)
	}
	for i, s := range h {
		if s.RunID != "stream/"+shard+"/"+seq(25*i+25) || s.In != 25 || s.Out != 15 || s.Rejected != 5 || s.Filtered != 5 || s.AddedRecords != 15 {
			t.Errorf("snapshot %d: %+v", i, s)
		}
	}
	got := lakeread.Read(t, filepath.Join(e.root, "warehouse", "web", "clicks"), "amount_cents", "event_id")
	var sum int
	for i := 1; i <= 50; i++ {
		if i%5 != 3 && i%5 != 4 {
			sum += i
		}
	}
	if got.Count != 30 || got.Sum != fmt.Sprint(sum) || len(got.Keys) != 30 {
		t.Errorf("icebird read %d rows, sum %s, %d keys; want 30, %d, 30", got.Count, got.Sum, len(got.Keys), sum)
	}
}

// commit_files commits as soon as that many files are held.
func TestIcebergStreamCommitsOnFileCount(t *testing.T) {
	e := newLakeEnv(t, "{commit_interval: 1h, commit_files: 2}", nil)
	var held []int
	for b := range 4 {
		res := e.apply(t, b)
		held = append(held, res.Held)
	}
	// Each batch's rows fall in one hour: one file a batch.
	if fmt.Sprint(held) != "[1 0 1 0]" || len(e.history(t)) != 2 {
		t.Fatalf("held after each batch %v, %d snapshots; want [1 0 1 0] and 2", held, len(e.history(t)))
	}
}

// failRelease fails the first save that releases held batches: the
// process dies between the table commit and the checkpoint's release.
type failRelease struct {
	window.Store
	failed bool
}

func (f *failRelease) Save(ctx context.Context, shard string, prev int64, next window.Snapshot, results []window.Cell) error {
	if snap, _ := f.Store.Load(ctx, shard); !f.failed && len(next.Held) < len(snap.Held) {
		f.failed = true
		return errors.New("killed before the release")
	}
	return f.Store.Save(ctx, shard, prev, next, results)
}

// A crash after the table commit and before the release leaves the
// batches held; the next commit finds them in the table and adds only
// the batches after them.
func TestIcebergStreamCommitSurvivesACrashBeforeTheRelease(t *testing.T) {
	e := newLakeEnv(t, "{commit_interval: 1h, commit_files: 2}", func(s window.Store) window.Store { return &failRelease{Store: s} })
	e.apply(t, 0)
	if _, err := e.pl.Apply(context.Background(), shard, batch(1)); err == nil || !strings.Contains(err.Error(), "release deferred") {
		t.Fatalf("apply with the release killed: %v", err)
	}
	snap, _ := e.store.Load(context.Background(), shard)
	if len(snap.Held) != 2 || len(e.history(t)) != 1 {
		t.Fatalf("after the crash: %d held, %d snapshots", len(snap.Held), len(e.history(t)))
	}
	// The next batch makes three held, two of them in the table.
	if res := e.apply(t, 2); res.Committed != 1 || res.Held != 0 {
		t.Fatalf("after the crash: %+v", res)
	}
	h := e.history(t)
	if len(h) != 2 || h[1].In != 5 || h[1].AddedRecords != 3 || h[1].TotalRecords != 9 {
		t.Fatalf("history %+v", h)
	}
	got := lakeread.Read(t, filepath.Join(e.root, "warehouse", "web", "clicks"), "amount_cents", "event_id")
	if got.Count != 9 || len(got.Keys) != 9 {
		t.Errorf("icebird read %+v, want 9 distinct rows", got)
	}
}

// A quiet shard's held files are committed by Flush once due, and not
// before.
func TestIcebergStreamFlushCommitsAQuietShard(t *testing.T) {
	e := newLakeEnv(t, "{commit_interval: 30s, commit_files: 1000}", nil)
	e.apply(t, 0)
	e.now = e.now.Add(29 * time.Second)
	if res, err := e.pl.Flush(context.Background(), shard); err != nil || res.Committed != 0 || res.Held != 1 {
		t.Fatalf("flush before due: %+v, %v", res, err)
	}
	e.now = e.now.Add(time.Second)
	if res, err := e.pl.Flush(context.Background(), shard); err != nil || res.Committed != 1 || res.Held != 0 || res.Checkpoint != seq(5) {
		t.Fatalf("flush when due: %+v, %v", res, err)
	}
	if res, err := e.pl.Flush(context.Background(), shard); err != nil || res.Committed != 0 || len(e.history(t)) != 1 {
		t.Fatalf("second flush: %+v, %v, %d snapshots", res, err, len(e.history(t)))
	}
}

// A shard that switches from an iceberg sink to another sink goes on once
// its held files are committed, and is stopped, losing nothing, while any
// are held.
func TestStreamLeavesAnIcebergSinkOnlyOnceNothingIsHeld(t *testing.T) {
	e := newLakeEnv(t, "{commit_interval: 1h, commit_files: 1000}", nil)
	e.apply(t, 0)
	p := clicksPlan(t)
	jsonl, err := stream.New(stream.Config{Plan: p, Staging: e.staging, Out: e.out, StagingPrefix: "staging", OutPrefix: "out",
		Store: e.store, Now: func() time.Time { return e.now }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jsonl.Apply(context.Background(), shard, batch(1)); !errors.Is(err, stream.ErrHeldForTable) {
		t.Fatalf("jsonl apply past held files: %v, want ErrHeldForTable", err)
	}
	e.now = e.now.Add(time.Hour)
	if res, err := e.pl.Flush(context.Background(), shard); err != nil || res.Committed != 1 {
		t.Fatalf("flush: %+v, %v", res, err)
	}
	res, err := jsonl.Apply(context.Background(), shard, batch(1))
	if err != nil || res.New != 5 || res.Counts.Out != 3 {
		t.Fatalf("jsonl apply after the commit: %+v, %v", res, err)
	}
}

// A plain sink that registers in Glue is refused: the stream path would
// publish files its Glue table never lists.
func TestGlueRegistrationIsRefusedOnTheStreamPath(t *testing.T) {
	p, err := plan.FromBytes("t.yaml", []byte("name: kv\nsource: {format: json}\nfields: [{name: event_id, required: true}]\nsink: {format: parquet, catalog: glue, table: {namespace: web, name: kv}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv()
	_, err = stream.New(stream.Config{Plan: p, Staging: e.staging, Out: e.out, StagingPrefix: "staging", OutPrefix: "out", Store: e.store})
	if !errors.Is(err, stream.ErrGlueStream) {
		t.Errorf("New = %v, want ErrGlueStream", err)
	}
}

// BenchmarkIcebergStream applies 500-record batches to one shard with the
// iceberg sink on a local catalog and the default commit policy (1m or
// 100 files), the clock moving half a second a batch: 1,000 records a
// second. It reports records/s through Apply, commits included, and the
// commits per simulated minute the policy lets through.
func BenchmarkIcebergStream(b *testing.B) {
	ctx := context.Background()
	p, err := plan.FromBytes("clicks.yaml", []byte(`
name: clicks
source: {format: jsonl}
fields:
  - {name: event_id, required: true}
  - {name: user, required: true}
  - {name: page, required: true}
  - {name: at, type: timestamp, required: true}
  - {name: amount_cents, type: int}
sink: {format: iceberg, table: {namespace: web, name: clicks}, partition_by: [{key: at_hour, field: at, transform: hour}]}
`))
	if err != nil {
		b.Fatal(err)
	}
	tbl, err := icebergtable.New(ctx, icebergtable.Location{Root: b.TempDir()}, p.Spec, &p.Out)
	if err != nil {
		b.Fatal(err)
	}
	defer tbl.Close()
	if err := tbl.Prepare(ctx); err != nil {
		b.Fatal(err)
	}
	e, now := newEnv(), t0
	pl, err := stream.New(stream.Config{Plan: p, Staging: e.staging, Out: e.out, StagingPrefix: "staging", OutPrefix: "out",
		Store: e.store, Now: func() time.Time { return now }, Lake: tbl})
	if err != nil {
		b.Fatal(err)
	}
	const per = 500
	commits, records := 0, 0
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		msgs := make([]stream.Message, per)
		for j := range msgs {
			n := i*per + j
			msgs[j] = stream.Message{Shard: shard, Seq: seq(n), Data: fmt.Appendf(nil,
				`{"event_id":"e%d","user":"u%d","page":"/p%d","at":%q,"amount_cents":%d}`, n, n%40, n%4, now.Format(time.RFC3339), n%1000)}
		}
		res, err := pl.Apply(ctx, shard, msgs)
		if err != nil {
			b.Fatal(err)
		}
		if res.Committed > 0 {
			commits++
		}
		records += per
		now = now.Add(per * time.Millisecond)
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
	if minutes := float64(records) / 1000 / 60; minutes > 0 {
		b.ReportMetric(float64(commits)/minutes, "commits/min")
	}
}

// failOnce is a table whose bucket refuses the first write: an
// invocation that stops after the checkpoint, before its data files are
// published.
type failOnce struct {
	*icebergtable.Table
	files storage.Bucket
}

type failingWrites struct {
	storage.Bucket
	failed *bool
}

func (f failingWrites) NewWriter(ctx context.Context, key string) (storage.Writer, error) {
	if !*f.failed {
		*f.failed = true
		return nil, errors.New("stopped before publishing")
	}
	return f.Bucket.NewWriter(ctx, key)
}

func (f failOnce) Files() (storage.Bucket, string) {
	_, prefix := f.Table.Files()
	return f.files, prefix
}

// The flush publishes a batch's files that its invocation checkpointed
// but did not publish, then commits them.
func TestIcebergStreamFlushPublishesFirst(t *testing.T) {
	ctx := context.Background()
	e := newLakeEnv(t, "{commit_interval: 10s, commit_files: 1000}", nil)
	b, _ := e.table.Files()
	failed := false
	pl, err := stream.New(stream.Config{Plan: e.pl.Plan(), Staging: e.staging, Out: e.out, StagingPrefix: "staging", OutPrefix: "out",
		Store: e.store, Now: func() time.Time { return e.now }, Lake: failOnce{Table: e.table, files: failingWrites{Bucket: b, failed: &failed}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pl.Apply(ctx, shard, batch(0)); err == nil || !strings.Contains(err.Error(), "publishing deferred") {
		t.Fatalf("apply: %v, want the publishing deferred", err)
	}
	e.now = e.now.Add(10 * time.Second)
	res, err := pl.Flush(ctx, shard)
	if err != nil || res.Committed != 1 {
		t.Fatalf("flush: %+v, %v", res, err)
	}
	got := lakeread.Read(t, filepath.Join(e.root, "warehouse", "web", "clicks"), "amount_cents", "event_id")
	if got.Count != 3 {
		t.Errorf("icebird read %d rows, want the batch's 3", got.Count)
	}
}

// Compaction between the stream's commits: the held files of later
// batches commit onto the compacted table, and every kept record is in it
// once.
func TestIcebergStreamAndCompactionTakeTurns(t *testing.T) {
	ctx := context.Background()
	e := newLakeEnv(t, "{commit_interval: 1h, commit_files: 2}", nil)
	merged := 0
	for b := range 12 {
		e.apply(t, b)
		if b%4 == 3 {
			rep, err := e.table.Compact(ctx, 128<<20, 2)
			if err != nil {
				t.Fatal(err)
			}
			merged += rep.Merged
		}
	}
	got := lakeread.Read(t, filepath.Join(e.root, "warehouse", "web", "clicks"), "amount_cents", "event_id")
	if got.Count != 36 || len(got.Keys) != 36 || merged == 0 {
		t.Fatalf("icebird read %d rows, %d distinct, after %d files merged; want 36 once each", got.Count, len(got.Keys), merged)
	}
}

// Compaction racing the stream's commits on one table: whichever commit
// loses is redone on the new table, and every kept record is in it once.
func TestIcebergStreamAndCompactionRace(t *testing.T) {
	ctx := context.Background()
	e := newLakeEnv(t, "{commit_interval: 1h, commit_files: 1}", nil)
	done := make(chan error)
	go func() {
		for b := range 16 {
			if _, err := e.pl.Apply(ctx, shard, batch(b)); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for running := true; running; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			running = false
		default:
			if _, err := e.table.Compact(ctx, 128<<20, 2); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := lakeread.Read(t, filepath.Join(e.root, "warehouse", "web", "clicks"), "amount_cents", "event_id")
	if got.Count != 48 || len(got.Keys) != 48 {
		t.Fatalf("icebird read %d rows, %d distinct; want 48 once each", got.Count, len(got.Keys))
	}
}
