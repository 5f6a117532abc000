package stream_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/adapter/storage/memblob"
	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/core/window"
	"github.com/sluice-etl/sluice/shared/pipeline/output"
	"github.com/sluice-etl/sluice/shared/pipeline/stream"
)

const shard = "clicks/shardId-000000000000"

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func clicksPlan(t testing.TB) *plan.Plan {
	t.Helper()
	p, err := plan.FromFile("../../../examples/clicks/spec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type env struct {
	staging, out *memblob.Bucket
	store        *window.MemStore
	nonce        int
}

func newEnv() *env {
	return &env{staging: memblob.NewNamed("staging"), out: memblob.NewNamed("out"), store: &window.MemStore{}}
}

func (e *env) pipeline(t testing.TB, p *plan.Plan) *stream.Pipeline {
	t.Helper()
	pl, err := stream.New(stream.Config{Plan: p, Staging: e.staging, Out: e.out, StagingPrefix: "staging", OutPrefix: "out",
		Store: e.store, Now: func() time.Time { return t0 }, Nonce: func() string { e.nonce++; return fmt.Sprint(e.nonce) }})
	if err != nil {
		t.Fatal(err)
	}
	return pl
}

func seq(i int) string { return fmt.Sprintf("4959%020d", 1000+i) }

// click makes a JSON click record; sec is seconds after t0.
func click(i int, user, page string, sec, cents int) stream.Message {
	data := fmt.Sprintf(`{"event_id":"e%d","user":" %s ","page":%q,"at":%q,"amount_cents":%d}`, i, user, page, t0.Add(time.Duration(sec)*time.Second).Format(time.RFC3339), cents)
	return stream.Message{Shard: shard, Seq: seq(i), Data: []byte(data), Arrival: t0.Add(time.Duration(sec) * time.Second)}
}

// rows reads every published JSON Lines part under out/clicks, by event id.
func rows(t *testing.T, b storage.Bucket) map[string]int {
	t.Helper()
	objs, err := b.List(context.Background(), "out/clicks/hour=")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, o := range objs {
		data, _ := storage.ReadAll(context.Background(), b, o.Key)
		for _, l := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
			var r struct {
				EventID string `json:"event_id"`
			}
			if err := json.Unmarshal(l, &r); err != nil {
				t.Fatalf("%s: %v", o.Key, err)
			}
			got[r.EventID]++
		}
	}
	return got
}

func TestBatchCountsOutputsAndRejects(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	pl := e.pipeline(t, clicksPlan(t))
	msgs := []stream.Message{
		click(1, "Ann", "/home", 1, 100),
		click(2, "bob", "/buy", 2, 250),
		click(3, "bot-7", "/home", 3, 5),                          // filtered
		click(4, "cy", "nohash", 4, 10),                           // page.regex
		click(5, "dee", "/home", 5, -3),                           // amount_cents.min
		{Shard: shard, Seq: seq(6), Data: []byte(`{"event_id":`)}, // decode
		click(7, "eve", "/home", 95, 40),                          // closes the first minute
		{Shard: shard, Seq: seq(8), Data: []byte("\x00"), Err: errors.New("bad KPL aggregate: digest mismatch")},
	}
	res, err := pl.Apply(ctx, shard, msgs)
	if err != nil {
		t.Fatal(err)
	}
	c := res.Counts
	if res.New != 8 || c.In != 8 || c.Out != 3 || c.Rejected != 4 || c.Filtered != 1 || c.FilteredByReason["filter:not_bot"] != 1 ||
		c.RejectedByRule["page.regex"] != 1 || c.RejectedByRule["amount_cents.min"] != 1 || c.RejectedByRule["decode"] != 2 {
		t.Fatalf("counts = %+v", c)
	}
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
	if got := rows(t, e.out); len(got) != 3 || got["e1"] != 1 || got["e2"] != 1 || got["e7"] != 1 {
		t.Fatalf("rows = %v", got)
	}
	rej, err := output.ReadRejects(ctx, e.out, "out/clicks/rejects/kinesis-clicks-shardId-000000000000-"+seq(1)+".jsonl")
	if err != nil || len(rej) != 4 {
		t.Fatalf("rejects = %+v, %v", rej, err)
	}
	if r := rej[0]; r.Shard != shard || r.Seq != seq(4) || r.Rule != "regex" || r.Field != "page" || !strings.Contains(r.Raw, "nohash") {
		t.Fatalf("first reject = %+v", r)
	}
	if r := rej[3]; r.Seq != seq(8) || r.Rule != "decode" || !strings.Contains(r.Reason, "digest mismatch") {
		t.Fatalf("KPL reject = %+v", r)
	}
	// The first minute closed (watermark 95s - 30s lateness): /buy and /home.
	if len(res.Closed) != 2 || res.Closed[0].Key != "/buy" || res.Closed[1].Key != "/home" ||
		res.Closed[1].Fields["amount_cents"] != (window.Agg{Count: 1, Sum: 100, Min: 100, Max: 100}) || res.Closed[1].Shard != shard {
		t.Fatalf("closed = %+v", res.Closed)
	}
	if left, _ := e.staging.List(ctx, ""); len(left) != 0 {
		t.Fatalf("staging not cleared: %v", left)
	}
	snap, _ := e.store.Load(ctx, shard)
	if snap.LastSeq != seq(8) || snap.Counts.In != 8 || len(snap.State.Open) != 1 {
		t.Fatalf("snapshot = %+v", snap)
	}
}

func TestReplayChangesNothing(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	pl := e.pipeline(t, clicksPlan(t))
	msgs := []stream.Message{click(1, "a", "/x", 1, 1), click(2, "b", "/x", 2, 2), click(3, "c", "/y", 3, 3)}
	if _, err := pl.Apply(ctx, shard, msgs); err != nil {
		t.Fatal(err)
	}
	before, _ := e.out.List(ctx, "")
	res, err := pl.Apply(ctx, shard, msgs)
	if err != nil || res.New != 0 || res.Skipped != 3 || res.Counts.In != 0 {
		t.Fatalf("replay = %+v, %v", res, err)
	}
	// A retry that overlaps: two old records and one new.
	more := append(msgs[1:], click(4, "d", "/x", 4, 4))
	res, err = pl.Apply(ctx, shard, more)
	if err != nil || res.New != 1 || res.Skipped != 2 {
		t.Fatalf("overlap = %+v, %v", res, err)
	}
	after, _ := e.out.List(ctx, "")
	if len(after) != len(before)+1 {
		t.Fatalf("objects %d -> %d", len(before), len(after))
	}
	if got := rows(t, e.out); len(got) != 4 || got["e2"] != 1 {
		t.Fatalf("rows = %v", got)
	}
	if snap, _ := e.store.Load(ctx, shard); snap.Counts.In != 4 || snap.Counts.Out != 4 {
		t.Fatalf("counts = %+v", snap.Counts)
	}
}

// ackLost saves, then reports a failure: the invocation dies after its
// commit and before it publishes.
type ackLost struct {
	window.Store
	fail bool
}

func (a *ackLost) Save(ctx context.Context, shard string, prev int64, next window.Snapshot, res []window.Cell) error {
	if err := a.Store.Save(ctx, shard, prev, next, res); err != nil {
		return err
	}
	if a.fail {
		a.fail = false
		return errors.New("connection reset")
	}
	return nil
}

func TestCrashAfterCommitIsPublishedByTheNextInvocation(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	st := &ackLost{Store: e.store, fail: true}
	pl, err := stream.New(stream.Config{Plan: clicksPlan(t), Staging: e.staging, Out: e.out, StagingPrefix: "staging", OutPrefix: "out", Store: st, Nonce: func() string { return "n" }})
	if err != nil {
		t.Fatal(err)
	}
	msgs := []stream.Message{click(1, "a", "/x", 1, 1), click(2, "b", "/x", 2, 2)}
	if _, err := pl.Apply(ctx, shard, msgs); err == nil {
		t.Fatal("the lost acknowledgement was not reported")
	}
	if got := rows(t, e.out); len(got) != 0 {
		t.Fatalf("published before the invocation finished: %v", got)
	}
	// Lambda retries the same batch plus a new record.
	res, err := pl.Apply(ctx, shard, append(msgs, click(3, "c", "/x", 3, 3)))
	if err != nil || res.New != 1 || res.Skipped != 2 {
		t.Fatalf("retry = %+v, %v", res, err)
	}
	if got := rows(t, e.out); len(got) != 3 || got["e1"] != 1 || got["e2"] != 1 || got["e3"] != 1 {
		t.Fatalf("rows = %v", got)
	}
}

// Another invocation on the shard commits between this one's load and
// save: this one discards its staged outputs, reloads and applies only
// what is left.
func TestConflictingInvocationsPublishOnce(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	p := clicksPlan(t)
	first := []stream.Message{click(1, "a", "/x", 1, 1), click(2, "b", "/x", 2, 2)}
	both := append(first[:2:2], click(3, "c", "/x", 3, 3))
	other := e.pipeline(t, p)
	e.store.BeforeSave = func(string) error {
		e.store.BeforeSave = nil
		_, err := other.Apply(ctx, shard, first)
		return err
	}
	res, err := e.pipeline(t, p).Apply(ctx, shard, both)
	if err != nil || res.Attempts != 2 || res.New != 1 || res.Skipped != 2 {
		t.Fatalf("res = %+v, %v", res, err)
	}
	if got := rows(t, e.out); len(got) != 3 || got["e1"] != 1 || got["e3"] != 1 {
		t.Fatalf("rows = %v", got)
	}
	if left, _ := e.staging.List(ctx, ""); len(left) != 0 {
		t.Fatalf("the loser's staged outputs remain: %v", left)
	}
}

// The property: a random stream delivered in random batches, with
// redeliveries and failing saves, publishes every kept row once and
// aggregates exactly as one clean pass.
func TestExactlyOnceUnderRandomDelivery(t *testing.T) {
	ctx := context.Background()
	p := clicksPlan(t)
	for seed := uint64(1); seed <= 8; seed++ {
		r := rand.New(rand.NewPCG(seed, 11))
		var msgs []stream.Message
		clock := 0
		for i := range 300 {
			clock += r.IntN(5)
			sec := clock
			if r.IntN(12) == 0 {
				sec -= r.IntN(80) // late now and then
			}
			user := fmt.Sprintf("u%d", r.IntN(9))
			if r.IntN(15) == 0 {
				user = "bot-1"
			}
			msgs = append(msgs, click(i, user, fmt.Sprintf("/p%d", r.IntN(3)), sec, r.IntN(500)))
		}
		clean := newEnv()
		if _, err := clean.pipeline(t, p).Apply(ctx, shard, msgs); err != nil {
			t.Fatal(err)
		}
		e := newEnv()
		flaky := &ackLost{Store: e.store}
		pl, err := stream.New(stream.Config{Plan: p, Staging: e.staging, Out: e.out, StagingPrefix: "staging", OutPrefix: "out", Store: flaky,
			Nonce: func() string { e.nonce++; return fmt.Sprint(e.nonce) }})
		if err != nil {
			t.Fatal(err)
		}
		pos := 0
		for n := 0; pos < len(msgs); n++ {
			if n > 5000 {
				t.Fatal("delivery did not finish")
			}
			end := min(pos+1+r.IntN(40), len(msgs))
			from := pos
			if r.IntN(4) == 0 {
				from = max(0, pos-r.IntN(60))
			}
			flaky.fail = r.IntN(5) == 0
			if _, err := pl.Apply(ctx, shard, msgs[from:end]); err == nil {
				pos = end
			}
		}
		// One more (empty-handed) invocation publishes what the last one
		// committed, as the next batch on the shard would.
		if _, err := pl.Apply(ctx, shard, msgs[len(msgs)-1:]); err != nil {
			t.Fatal(err)
		}
		want, got := rows(t, clean.out), rows(t, e.out)
		if len(got) != len(want) {
			t.Fatalf("seed %d: %d rows, want %d", seed, len(got), len(want))
		}
		for id, n := range got {
			if n != 1 || want[id] != 1 {
				t.Fatalf("seed %d: %s published %d times", seed, id, n)
			}
		}
		a, _ := clean.store.Load(ctx, shard)
		b, _ := e.store.Load(ctx, shard)
		if summary(clean.store.Results, a) != summary(e.store.Results, b) {
			t.Fatalf("seed %d: aggregates differ\n%s\n%s", seed, summary(e.store.Results, b), summary(clean.store.Results, a))
		}
		if a.Counts.In != 300 || b.Counts.In != 300 || a.Counts.Out != b.Counts.Out || a.State.LateCount != b.State.LateCount {
			t.Fatalf("seed %d: counts %+v vs %+v", seed, b.Counts, a.Counts)
		}
	}
}

func summary(res map[string]window.Cell, snap window.Snapshot) string {
	var keys []string
	for k := range res {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		c := res[k]
		fmt.Fprintf(&b, "%s %d %+v|", k, c.Count, c.Fields["amount_cents"])
	}
	fmt.Fprintf(&b, "open %d late %d", len(snap.State.Open), snap.State.LateCount)
	return b.String()
}

func TestLateRecordsGoToTheSideOutput(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	pl := e.pipeline(t, clicksPlan(t))
	res, err := pl.Apply(ctx, shard, []stream.Message{click(1, "a", "/x", 200, 1), click(2, "b", "/x", 10, 7)})
	if err != nil || res.Late != 1 || res.Counts.Out != 2 {
		t.Fatalf("res = %+v, %v", res, err)
	}
	data, err := storage.ReadAll(ctx, e.out, "out/clicks/late/kinesis-clicks-shardId-000000000000-"+seq(1)+".jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var l struct {
		Shard string `json:"shard"`
		Seq   string `json:"sequence_number"`
		Data  string `json:"data"`
	}
	if err := json.Unmarshal(data, &l); err != nil || l.Shard != shard || l.Seq != seq(2) || !strings.Contains(l.Data, `"e2"`) {
		t.Fatalf("late line %s: %v", data, err)
	}
}

type table struct {
	items map[string]map[string]any
	fail  error
}

func (tb *table) Upsert(_ context.Context, rows []map[string]any) error {
	if tb.fail != nil {
		return tb.fail
	}
	for _, r := range rows {
		tb.items[fmt.Sprint(r["event_id"])] = r
	}
	return nil
}

func TestDynamoDBSink(t *testing.T) {
	ctx := context.Background()
	p, err := plan.FromBytes("t.yaml", []byte("name: kv\nsource: {format: json}\nfields: [{name: event_id, required: true}, {name: n, type: int}]\nsink: {format: dynamodb, table: kv, key: [event_id]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv()
	tb := &table{items: map[string]map[string]any{}, fail: errors.New("throttled")}
	pl, err := stream.New(stream.Config{Plan: p, Staging: e.staging, Out: e.out, StagingPrefix: "staging", OutPrefix: "out", Store: e.store, Table: tb, Nonce: func() string { return "x" }})
	if err != nil {
		t.Fatal(err)
	}
	msgs := []stream.Message{{Shard: shard, Seq: seq(1), Data: []byte(`{"event_id":"a","n":1}`)}, {Shard: shard, Seq: seq(2), Data: []byte(`{"event_id":"b","n":2}`)}}
	if _, err := pl.Apply(ctx, shard, msgs); err == nil || !strings.Contains(err.Error(), "throttled") {
		t.Fatalf("a failing table: %v", err)
	}
	if snap, _ := e.store.Load(ctx, shard); snap.Version != 0 {
		t.Fatalf("committed despite the failed upsert: %+v", snap)
	}
	tb.fail = nil
	res, err := pl.Apply(ctx, shard, msgs)
	if err != nil || res.Counts.Out != 2 || len(tb.items) != 2 || fmt.Sprint(tb.items["b"]["n"]) != "2" {
		t.Fatalf("res = %+v, items %v, %v", res, tb.items, err)
	}
	if left, _ := e.staging.List(ctx, ""); len(left) != 0 {
		t.Fatalf("staging not cleared: %v", left)
	}
}

func BenchmarkApplyTumbling(b *testing.B) {
	ctx := context.Background()
	p := clicksPlan(b)
	const n = 1000
	msgs := make([]stream.Message, n)
	for i := range msgs {
		msgs[i] = click(i, fmt.Sprintf("user-%04d", i%97), fmt.Sprintf("/page/%d", i%20), i/10, i%1000)
		msgs[i].Data = append(msgs[i].Data[:len(msgs[i].Data)-1], []byte(`,"agent":"Mozilla/5.0 (X11; Linux x86_64)","ref":"https://example.com/"}`)...)
	}
	b.SetBytes(int64(n * len(msgs[0].Data)))
	b.ReportAllocs()
	e := newEnv()
	pl := e.pipeline(b, p)
	base := 0
	for b.Loop() {
		// Fresh sequence numbers each round, so nothing is skipped.
		for i := range msgs {
			msgs[i].Seq = seq(base + i)
		}
		base += n
		if _, err := pl.Apply(ctx, shard, msgs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
}

// CSV messages with the spec's columns, windowed by arrival time: a
// sliding window of two minutes every minute, per region.
func TestCSVMessagesSlidingByArrival(t *testing.T) {
	ctx := context.Background()
	p, err := plan.FromBytes("csv.yaml", []byte(`name: temps
source: {format: csv, csv: {header: false, columns: [sensor, region, celsius]}}
fields:
  - {name: sensor, required: true}
  - {name: region, required: true}
  - {name: celsius, type: float, required: true}
window: {kind: sliding, size: 2m, hop: 1m, time: arrival, group_by: [region], aggregate: [celsius]}
`))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv()
	e.store = &window.MemStore{}
	pl, err := stream.New(stream.Config{Plan: p, Staging: e.staging, Out: e.out, StagingPrefix: "staging", OutPrefix: "out", Store: e.store,
		Now: func() time.Time { return t0.Add(10 * time.Minute) }, Nonce: func() string { return "n" }})
	if err != nil {
		t.Fatal(err)
	}
	msg := func(i int, data string, sec int) stream.Message {
		return stream.Message{Shard: shard, Seq: seq(i), Data: []byte(data), Arrival: t0.Add(time.Duration(sec) * time.Second)}
	}
	res, err := pl.Apply(ctx, shard, []stream.Message{
		msg(1, "s1,north,10.5", 10), msg(2, "s2,north,11.5\n", 70), msg(3, "s3,south,-2", 75),
		msg(4, "s4,north", 80),      // too few columns
		msg(5, "s5,north,warm", 85), // not a number
	})
	if err != nil {
		t.Fatal(err)
	}
	if c := res.Counts; c.In != 5 || c.Out != 3 || c.RejectedByRule["decode"] != 1 || c.RejectedByRule["celsius.type"] != 1 {
		t.Fatalf("counts = %+v", c)
	}
	// By the wall clock (10 minutes on) every window has closed: north in
	// [-1m,1m) once, [0,2m) twice, [1m,3m) once; south in [0,2m) and [1m,3m).
	var got []string
	for _, c := range res.Closed {
		got = append(got, fmt.Sprintf("%s@%d:%d:%g", c.Key, (c.Window.Start-t0.UnixMilli())/60000, c.Count, c.Fields["celsius"].Sum))
	}
	if want := "north@-1:1:10.5 north@0:2:22 south@0:1:-2 north@1:1:11.5 south@1:1:-2"; strings.Join(got, " ") != want {
		t.Fatalf("closed = %s\nwant     %s", strings.Join(got, " "), want)
	}
}
