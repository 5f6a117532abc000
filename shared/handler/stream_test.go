package handler_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/kinesis-aggregation/go/v2/records"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"

	"github.com/sluice-etl/sluice/examples"
	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/adapter/storage/memblob"
	"github.com/sluice-etl/sluice/shared/core/deadline"
	"github.com/sluice-etl/sluice/shared/core/window"
	"github.com/sluice-etl/sluice/shared/handler"
	"github.com/sluice-etl/sluice/shared/pipeline/output"
)

const (
	clicksARN = "arn:aws:kinesis:us-east-1:123456789012:stream/sluice-clicks"
	shard0    = "sluice-clicks/shardId-000000000000"
)

var fixtureT0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func clickJSON(id, user, page string, sec, cents int) string {
	return fmt.Sprintf(`{"event_id":%q,"user":%q,"page":%q,"at":%q,"amount_cents":%d}`, id, user, page, fixtureT0.Add(time.Duration(sec)*time.Second).Format(time.RFC3339), cents)
}

// kplAggregate packs user records in the KPL aggregation format: magic,
// protobuf AggregatedRecord, MD5 of the protobuf.
func kplAggregate(t *testing.T, keys []string, data ...string) []byte {
	t.Helper()
	agg := &records.AggregatedRecord{PartitionKeyTable: keys}
	for i, d := range data {
		idx := uint64(i % len(keys))
		agg.Records = append(agg.Records, &records.Record{PartitionKeyIndex: &idx, Data: []byte(d)})
	}
	body, err := proto.Marshal(protoadapt.MessageV2Of(agg))
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(body)
	return append(append([]byte{0xf3, 0x89, 0x9a, 0xc2}, body...), sum[:]...)
}

func kinesisRecord(shard string, i int, data []byte) events.KinesisEventRecord {
	seq := fmt.Sprintf("4963%052d", 100+i)
	return events.KinesisEventRecord{AwsRegion: "us-east-1", EventID: shard + ":" + seq, EventName: "aws:kinesis:record",
		EventSource: "aws:kinesis", EventSourceArn: clicksARN, EventVersion: "1.0",
		InvokeIdentityArn: "arn:aws:iam::123456789012:role/sluice-extract",
		Kinesis: events.KinesisRecord{ApproximateArrivalTimestamp: events.SecondsEpochTime{Time: fixtureT0.Add(time.Duration(i) * time.Second)},
			Data: data, PartitionKey: fmt.Sprintf("user-%d", i), SequenceNumber: seq, KinesisSchemaVersion: "1.0"}}
}

// kinesisFixture is events/kinesis.json: eight records on one shard, one
// of them a KPL aggregate of two clicks.
func kinesisFixture(t *testing.T) events.KinesisEvent {
	const sh = "shardId-000000000000"
	return events.KinesisEvent{Records: []events.KinesisEventRecord{
		kinesisRecord(sh, 1, []byte(clickJSON("e1", "Ann", "/home", 1, 120))),
		kinesisRecord(sh, 2, []byte(clickJSON("e2", "bob", "/buy", 2, 990))),
		kinesisRecord(sh, 3, []byte(clickJSON("e3", "bot-9", "/home", 3, 0))),
		kinesisRecord(sh, 4, []byte(clickJSON("e4", "cy", "home", 4, 5))),
		kinesisRecord(sh, 5, kplAggregate(t, []string{"user-a", "user-b"}, clickJSON("e5", "dee", "/home", 5, 30), clickJSON("e6", "eve", "/buy", 6, 45))),
		kinesisRecord(sh, 6, []byte(`{"event_id":"e7","user":`)),
		kinesisRecord(sh, 7, []byte(clickJSON("e8", "fay", "/home", 100, 7))),
		kinesisRecord(sh, 8, []byte(clickJSON("e9", "gus", "/home", 20, 11))),
	}}
}

func (e *env) streamSettings() {
	e.s.StreamSpecs = map[string]string{"sluice-clicks": "bundled:clicks"}
	e.s.WindowTable = "sluice-window-state"
}

func (e *env) streamDeps(st *window.MemStore) handler.Deps {
	d := e.deps()
	d.Windows = func(string, time.Duration) handler.WindowStore { return st }
	d.Now = func() time.Time { return fixtureT0.Add(time.Hour) }
	return d
}

func outRows(t *testing.T, b storage.Bucket, prefix string) []string {
	t.Helper()
	objs, err := b.List(ctx, prefix)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, o := range objs {
		data, _ := storage.ReadAll(ctx, b, o.Key)
		for _, l := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
			var r struct {
				EventID string `json:"event_id"`
			}
			if err := json.Unmarshal(l, &r); err != nil {
				t.Fatalf("%s: %v", o.Key, err)
			}
			ids = append(ids, r.EventID)
		}
	}
	sort.Strings(ids)
	return ids
}

func TestKinesisFixture(t *testing.T) {
	if *update {
		writeFixture(t, "kinesis.json", kinesisFixture(t))
	}
	e := newEnv(t)
	e.streamSettings()
	st := &window.MemStore{}
	h := handler.NewExtractor(e.s, e.streamDeps(st))
	payload := fixture(t, "kinesis.json")
	var res handler.StreamResult
	// Through Invoke, the raw-payload entry point the function starts with.
	if err := invoke(t, h, payload, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.BatchItemFailures) != 0 || res.State != nil {
		t.Fatalf("result = %+v", res)
	}
	out := e.bucket("sluice-output-bucket")
	if got := strings.Join(outRows(t, out, "tables/clicks/hour="), ","); got != "e1,e2,e5,e6,e8,e9" {
		t.Fatalf("rows = %s", got)
	}
	snap, _ := st.Load(ctx, shard0)
	c := snap.Counts
	if c.In != 9 || c.Out != 6 || c.Rejected != 2 || c.Filtered != 1 || c.RejectedByRule["page.regex"] != 1 || c.RejectedByRule["decode"] != 1 || snap.State.LateCount != 1 {
		t.Fatalf("counts = %+v late %d", c, snap.State.LateCount)
	}
	rej, err := output.ReadRejects(ctx, out, "quarantine/clicks/kinesis-sluice-clicks-shardId-000000000000-"+snap.LastSeq[:len(snap.LastSeq)-3]+"101.jsonl")
	if err != nil || len(rej) != 2 || rej[0].Shard != shard0 || rej[0].Seq != fmt.Sprintf("4963%052d", 104) || rej[1].Rule != "decode" {
		t.Fatalf("rejects = %+v, %v", rej, err)
	}
	// e9 (20s) is late: the watermark passed 100s - 30s.
	late, _ := out.List(ctx, "tables/clicks/late/")
	if len(late) != 1 {
		t.Fatalf("late outputs = %v", late)
	}
	// The first minute closed: /buy 990+45, /home 120+30 (e9 came late).
	var closed []string
	for _, c := range st.Results {
		closed = append(closed, fmt.Sprintf("%s:%d:%g", c.Key, c.Count, c.Fields["amount_cents"].Sum))
	}
	sort.Strings(closed)
	if got := strings.Join(closed, " "); got != "/buy:2:1035 /home:2:150" {
		t.Fatalf("closed windows = %s", got)
	}
	if !strings.Contains(e.emf.String(), `"RecordsIn":9`) || strings.Contains(e.emf.String(), "fay") {
		t.Fatalf("EMF line = %s", e.emf.String())
	}
	// Lambda delivers the same batch again: nothing changes.
	before, _ := out.List(ctx, "")
	if err := invoke(t, h, payload, &res); err != nil || len(res.BatchItemFailures) != 0 {
		t.Fatalf("replay: %+v %v", res, err)
	}
	after, _ := out.List(ctx, "")
	if again, _ := st.Load(ctx, shard0); len(after) != len(before) || again.Counts.In != 9 || again.Version != snap.Version {
		t.Fatalf("the replay changed something: %d -> %d objects, %+v", len(before), len(after), again.Counts)
	}
}

func TestKinesisCorruptAggregateIsQuarantined(t *testing.T) {
	e := newEnv(t)
	e.streamSettings()
	st := &window.MemStore{}
	h := handler.NewExtractor(e.s, e.streamDeps(st))
	agg := kplAggregate(t, []string{"k"}, clickJSON("a", "u", "/x", 1, 1))
	bad := append([]byte{}, agg...)
	bad[len(bad)-1] ^= 0xff // digest no longer matches
	ev := events.KinesisEvent{Records: []events.KinesisEventRecord{kinesisRecord("shardId-000000000000", 1, bad), kinesisRecord("shardId-000000000000", 2, agg)}}
	payload, _ := json.Marshal(ev)
	var res handler.StreamResult
	if err := invoke(t, h, payload, &res); err != nil || len(res.BatchItemFailures) != 0 {
		t.Fatalf("%+v %v", res, err)
	}
	snap, _ := st.Load(ctx, shard0)
	if snap.Counts.In != 2 || snap.Counts.Out != 1 || snap.Counts.RejectedByRule["decode"] != 1 {
		t.Fatalf("counts = %+v", snap.Counts)
	}
	objs, _ := e.bucket("sluice-output-bucket").List(ctx, "quarantine/clicks/")
	rej, _ := output.ReadRejects(ctx, e.bucket("sluice-output-bucket"), objs[0].Key)
	if len(rej) != 1 || !strings.Contains(rej[0].Reason, "KPL aggregate") {
		t.Fatalf("rejects = %+v", rej)
	}
}

// failingShard makes saves of one shard fail, as a throttled table does.
func failingShard(st *window.MemStore, shard string) {
	st.BeforeSave = func(s string) error {
		if s == shard {
			return errors.New("ThrottlingException: rate exceeded")
		}
		return nil
	}
}

func twoShardEvent() events.KinesisEvent {
	var ev events.KinesisEvent
	for i := range 3 {
		ev.Records = append(ev.Records, kinesisRecord("shardId-000000000000", i, []byte(clickJSON(fmt.Sprint("a", i), "u", "/x", i, 1))))
	}
	for i := range 2 {
		ev.Records = append(ev.Records, kinesisRecord("shardId-000000000001", 10+i, []byte(clickJSON(fmt.Sprint("b", i), "u", "/x", i, 1))))
	}
	return ev
}

func TestKinesisPartialBatchFailure(t *testing.T) {
	e := newEnv(t)
	e.streamSettings()
	st := &window.MemStore{}
	failingShard(st, shard0)
	h := handler.NewExtractor(e.s, e.streamDeps(st))
	payload, _ := json.Marshal(twoShardEvent())
	var res handler.StreamResult
	if err := invoke(t, h, payload, &res); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range res.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier[len(f.ItemIdentifier)-3:])
	}
	if got := strings.Join(ids, ","); got != "100,101,102" {
		t.Fatalf("failures = %s", got)
	}
	// The other shard went on and committed; the failed one left nothing.
	if s, _ := st.Load(ctx, "sluice-clicks/shardId-000000000001"); s.Counts.In != 2 {
		t.Fatalf("other shard = %+v", s)
	}
	if got := strings.Join(outRows(t, e.bucket("sluice-output-bucket"), "tables/clicks/"), ","); got != "b0,b1" {
		t.Fatalf("rows = %s", got)
	}
	// The failed attempt's staged part stays in staging (the save might
	// have landed; the staging bucket's lifecycle removes it) and is
	// never published.
	if left, _ := e.bucket("sluice-staging-bucket").List(ctx, "runs/stream/clicks/sluice-clicks-shardId-000000000000/"); len(left) != 1 {
		t.Fatalf("staging after a failed save: %v", left)
	}
	// The retry succeeds and adds the failed shard's rows once.
	st.BeforeSave = nil
	if err := invoke(t, h, payload, &res); err != nil || len(res.BatchItemFailures) != 0 {
		t.Fatalf("retry: %+v %v", res, err)
	}
	if got := strings.Join(outRows(t, e.bucket("sluice-output-bucket"), "tables/clicks/"), ","); got != "a0,a1,a2,b0,b1" {
		t.Fatalf("rows after retry = %s", got)
	}
}

func TestKinesisFailFast(t *testing.T) {
	e := newEnv(t)
	e.streamSettings()
	specs := e.bucket("sluice-specs")
	clicks, _ := examples.Spec("clicks")
	put(t, specs, "clicks.yaml", append(clicks, []byte("stream: {on_failure: fail_fast}\n")...))
	e.s.StreamSpecs = map[string]string{"*": "s3://sluice-specs/clicks.yaml"}
	st := &window.MemStore{}
	failingShard(st, shard0)
	h := handler.NewExtractor(e.s, e.streamDeps(st))
	payload, _ := json.Marshal(twoShardEvent())
	var res handler.StreamResult
	if err := invoke(t, h, payload, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.BatchItemFailures) != 5 {
		t.Fatalf("fail_fast reported %d of 5 records", len(res.BatchItemFailures))
	}
	if s, _ := st.Load(ctx, "sluice-clicks/shardId-000000000001"); s.Version != 0 {
		t.Fatalf("fail_fast went on to the next shard: %+v", s)
	}
}

func TestKinesisNeedsAStreamSpec(t *testing.T) {
	e := newEnv(t)
	e.streamSettings()
	e.s.StreamSpecs = map[string]string{"other-stream": "bundled:clicks"}
	h := handler.NewExtractor(e.s, e.streamDeps(&window.MemStore{}))
	_, err := h.Invoke(ctx, fixture(t, "kinesis.json"))
	if !errors.Is(err, handler.ErrNoSpec) || !strings.Contains(err.Error(), "sluice-clicks") {
		t.Fatalf("err = %v", err)
	}
}

// windowFixture is events/kinesis-window.json: a batch in Lambda's own
// tumbling window, with the state Lambda carried from the last invoke.
func windowFixture(t *testing.T) events.KinesisTimeWindowEvent {
	ev := events.KinesisTimeWindowEvent{KinesisEvent: events.KinesisEvent{Records: []events.KinesisEventRecord{
		kinesisRecord("shardId-000000000000", 1, []byte(clickJSON("w1", "ann", "/home", 1, 100))),
		kinesisRecord("shardId-000000000000", 2, []byte(clickJSON("w2", "bob", "/home", 2, 50))),
		kinesisRecord("shardId-000000000000", 3, []byte(clickJSON("w3", "cy", "/buy", 3, 7))),
	}}}
	ev.Window = events.Window{Start: events.RFC3339EpochTime{Time: fixtureT0}, End: events.RFC3339EpochTime{Time: fixtureT0.Add(5 * time.Minute)}}
	ev.State = map[string]string{}
	ev.ShardID = "shardId-000000000000"
	ev.EventSourceARN = clicksARN
	return ev
}

func TestKinesisNativeWindowFixture(t *testing.T) {
	if *update {
		writeFixture(t, "kinesis-window.json", windowFixture(t))
	}
	e := newEnv(t)
	e.streamSettings()
	specs := e.bucket("sluice-specs")
	put(t, specs, "native.yaml", []byte(`name: clicks_native
source: {format: json}
fields:
  - {name: event_id, required: true}
  - {name: page, required: true}
  - {name: amount_cents, type: int}
window: {kind: tumbling, size: 5m, native: true, group_by: [page], aggregate: [amount_cents]}
`))
	e.s.StreamSpecs = map[string]string{"sluice-clicks": "s3://sluice-specs/native.yaml"}
	st := &window.MemStore{}
	h := handler.NewExtractor(e.s, e.streamDeps(st))
	payload := fixture(t, "kinesis-window.json")
	var res handler.StreamResult
	if err := invoke(t, h, payload, &res); err != nil || len(res.BatchItemFailures) != 0 {
		t.Fatalf("%+v %v", res, err)
	}
	if res.State == nil || res.State["sluice_last_seq"] != fmt.Sprintf("4963%052d", 103) || len(st.Results) != 0 {
		t.Fatalf("state = %v, results %v", res.State, st.Results)
	}
	// Lambda retries the same batch with the state it returned: the
	// state's checkpoint keeps it from counting twice.
	var ev events.KinesisTimeWindowEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		t.Fatal(err)
	}
	ev.State = res.State
	retry, _ := json.Marshal(ev)
	var res2 handler.StreamResult
	if err := invoke(t, h, retry, &res2); err != nil {
		t.Fatal(err)
	}
	// The final invoke of the window, with no records, writes the results.
	final := events.KinesisTimeWindowEvent{}
	final.Window, final.State, final.ShardID, final.EventSourceARN = ev.Window, res2.State, ev.ShardID, ev.EventSourceARN
	final.IsFinalInvokeForWindow = true
	fp, _ := json.Marshal(final)
	var res3 handler.StreamResult
	if err := invoke(t, h, fp, &res3); err != nil || len(res3.State) != 0 {
		t.Fatalf("final: %+v %v", res3, err)
	}
	var got []string
	for _, c := range st.Results {
		got = append(got, fmt.Sprintf("%s %d-%d n=%d sum=%g min=%g max=%g", c.Key, c.Window.Start, c.Window.End, c.Count,
			c.Fields["amount_cents"].Sum, c.Fields["amount_cents"].Min, c.Fields["amount_cents"].Max))
	}
	sort.Strings(got)
	s, en := fixtureT0.UnixMilli(), fixtureT0.Add(5*time.Minute).UnixMilli()
	want := fmt.Sprintf("/buy %d-%d n=1 sum=7 min=7 max=7|/home %d-%d n=2 sum=150 min=50 max=100", s, en, s, en)
	if strings.Join(got, "|") != want {
		t.Fatalf("results:\n%s\nwant\n%s", strings.Join(got, "|"), want)
	}
}

// BenchmarkKinesisInvocation is one extract invocation on a Kinesis batch
// of ~200-byte JSON events, in-process (memory buckets and window store):
// event decoding, the spec, a three-field tumbling window, staging, the
// commit and publishing.
func BenchmarkKinesisInvocation(b *testing.B) {
	for _, n := range []int{1000, 10_000} {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			spec, err := os.ReadFile("../../bench/stream-spec.yaml")
			if err != nil {
				b.Fatal(err)
			}
			e := &env{buckets: map[string]*memblob.Bucket{}}
			e.s = handler.Settings{StagingBucket: "staging", OutputBucket: "out", OutputPrefix: "tables", WindowTable: "w",
				StreamSpecs: map[string]string{"*": "s3://specs/events.yaml"}}
			if err := storage.WriteAll(ctx, e.bucket("specs"), "events.yaml", spec); err != nil {
				b.Fatal(err)
			}
			st := &window.MemStore{}
			d := handler.Deps{Open: func(_ context.Context, name string) (storage.Bucket, error) { return e.bucket(name), nil },
				Windows: func(string, time.Duration) handler.WindowStore { return st }}
			invokeH := lambda.NewHandler(handler.NewExtractor(e.s, d))
			var payloads [][]byte
			var size int
			for round := range 4 {
				ev := events.KinesisEvent{}
				for i := range n {
					j := round*n + i
					data := fmt.Sprintf(`{"event_id":"ev-%09d","user":"user-%05d","page":"/shop/item/%d","at":%q,"amount_cents":%d,"qty":%d,"latency_ms":%d.%d,"agent":"Mozilla/5.0 (X11)"}`,
						j, j%5000, j%20, fixtureT0.Add(time.Duration(j)*10*time.Millisecond).Format(time.RFC3339Nano), j%10_000, 1+j%5, 20+j%300, j%10)
					size += len(data)
					ev.Records = append(ev.Records, kinesisRecord("shardId-000000000000", j, []byte(data)))
				}
				p, _ := json.Marshal(ev)
				payloads = append(payloads, p)
			}
			b.Logf("%d bytes a record", size/(4*n))
			i := 0
			for b.Loop() {
				if i == len(payloads) {
					// Start the shard over, so every batch is new.
					b.StopTimer()
					*st = window.MemStore{}
					i = 0
					b.StartTimer()
				}
				// Through the runtime's handler machinery, as Lambda invokes it.
				out, err := invokeH.Invoke(ctx, payloads[i])
				if err != nil || !bytes.Equal(out, []byte(`{"batchItemFailures":[]}`)) {
					b.Fatalf("%s %v", out, err)
				}
				i++
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// An invocation whose deadline is near stops taking records, commits
// what it took and returns the rest as failures; Lambda's next delivery
// from the first failure finishes the batch with nothing twice.
func TestKinesisDeadlineDefersTheRest(t *testing.T) {
	e := newEnv(t)
	e.streamSettings()
	st := &window.MemStore{}
	h := handler.NewExtractor(e.s, e.streamDeps(st))
	var ev events.KinesisEvent
	const n = 20_000 // far more than 10 ms of work
	for i := range n {
		ev.Records = append(ev.Records, kinesisRecord("shardId-000000000000", i, []byte(clickJSON(fmt.Sprintf("d%05d", i), "u", "/x", i/100, 1))))
	}
	payload, _ := json.Marshal(ev)
	// 110 ms left: the pipeline keeps 100 ms for its commit, so it takes
	// records for about 10 ms and no more. Each look at the clock takes
	// 1 ms.
	t.Logf("applying %d records with 110 ms left", n)
	slow := handler.NewExtractor(e.s, e.streamDeps(st))
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := t0
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Millisecond)
		return now
	}
	ctx := deadline.WithClock(context.Background(), t0.Add(110*time.Millisecond), clock)
	out, err := slow.Invoke(ctx, payload)
	if err != nil {
		t.Fatal(err)
	}
	res := &handler.StreamResult{}
	if err := json.Unmarshal(out, res); err != nil {
		t.Fatal(err)
	}
	snap, _ := st.Load(context.Background(), shard0)
	done := int(snap.Counts.In)
	if done == 0 || done == n || done+len(res.BatchItemFailures) != n {
		t.Fatalf("%d applied, %d returned as failures, of %d", done, len(res.BatchItemFailures), n)
	}
	if first := res.BatchItemFailures[0].ItemIdentifier; first != ev.Records[done].Kinesis.SequenceNumber {
		t.Fatalf("first failure %s, want the record after the checkpoint", first)
	}
	// Lambda resumes from the first failure, with its full time.
	var rest events.KinesisEvent
	rest.Records = ev.Records[done:]
	p2, _ := json.Marshal(rest)
	var res2 handler.StreamResult
	if err := invoke(t, h, p2, &res2); err != nil || len(res2.BatchItemFailures) != 0 {
		t.Fatalf("resume: %+v %v", res2, err)
	}
	got := outRows(t, e.bucket("sluice-output-bucket"), "tables/clicks/hour=")
	for i, id := range got {
		if id != fmt.Sprintf("d%05d", i) {
			t.Fatalf("row %d is %s: lost or repeated", i, id)
		}
	}
	if len(got) != n {
		t.Fatalf("%d rows after the resume", len(got))
	}
	if snap, _ := st.Load(context.Background(), shard0); snap.Counts.In != n {
		t.Fatalf("counts after the resume: %+v", snap.Counts)
	}
}

// Logs hold no record values unless debug sampling is on: a batch run
// and a Kinesis batch, logged as JSON at debug level, mention none of
// the values sent; with SLUICE_DEBUG_SAMPLE=1 the quarantined records
// appear in the log.
func TestLogsHoldNoRecordValues(t *testing.T) {
	values := []string{"alice@example.com", "Bob.Smith", "not-an-email", "gift wrap", "carol@example.org", // orders.csv
		"Ann", "bot-9", `"home"`, "fay", "gus"} // events/kinesis.json
	run := func(t *testing.T, sample float64) string {
		e := newEnv(t)
		e.streamSettings()
		e.s.DebugSample = sample
		var logs bytes.Buffer
		d := e.streamDeps(&window.MemStore{})
		d.Log = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		d.EMF = &logs
		ex := handler.NewExtractor(e.s, d)
		var p handler.Planned
		if err := invoke(t, ex, fixture(t, "eventbridge-object-created.json"), &p); err != nil {
			t.Fatal(err)
		}
		var done handler.ChunkDone
		if err := invoke(t, handler.NewTransformer(e.s, d).Handle, mustJSON(p.Chunks[0]), &done); err != nil {
			t.Fatal(err)
		}
		var loaded, final handler.LoadOutput
		if err := invoke(t, handler.NewLoader(e.s, d).Handle, mustJSON(handler.LoadInput{Action: handler.ActionLoad, Run: p}), &loaded); err != nil {
			t.Fatal(err)
		}
		if err := invoke(t, handler.NewLoader(e.s, d).Handle, mustJSON(handler.LoadInput{Action: handler.ActionFinalize, Run: p, ManifestKey: loaded.ManifestKey}), &final); err != nil || final.Rejected != 12 {
			t.Fatalf("batch run: %+v %v", final, err)
		}
		var res handler.StreamResult
		if err := invoke(t, ex, fixture(t, "kinesis.json"), &res); err != nil {
			t.Fatal(err)
		}
		if logs.Len() == 0 {
			t.Fatal("nothing was logged")
		}
		return logs.String()
	}
	quiet := run(t, 0)
	for _, v := range values {
		if strings.Contains(quiet, v) {
			t.Errorf("the log holds the record value %q", v)
		}
	}
	loud := run(t, 1)
	for _, v := range []string{"not-an-email", `\"page\":\"home\"`} { // quarantined in the batch run and the stream
		if !strings.Contains(loud, v) {
			t.Errorf("debug sampling is on, yet the log lacks %q", v)
		}
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
