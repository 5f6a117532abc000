package offline

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sluice-etl/sluice/internal/motoserver"
)

type esmEnv struct {
	k *kinesis.Client
	q *sqs.Client
}

func newESMEnv(t *testing.T) *esmEnv {
	t.Helper()
	cfg := motoserver.ForTest(t)
	return &esmEnv{k: kinesis.NewFromConfig(cfg), q: sqs.NewFromConfig(cfg)}
}

func (e *esmEnv) stream(t *testing.T, name string, records ...string) {
	t.Helper()
	ctx := context.Background()
	if _, err := e.k.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	for _, r := range records {
		if _, err := e.k.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String("k"), Data: []byte(r)}); err != nil {
			t.Fatal(err)
		}
	}
}

// recorder is a scripted function: it records every batch and answers
// with the failures fail chooses.
type recorder struct {
	mu      sync.Mutex
	batches [][]string
	windows []events.KinesisTimeWindowEvent
	fail    func(data []string, ev events.KinesisTimeWindowEvent) (*Result, error)
}

func (r *recorder) invoke(_ context.Context, payload []byte) (*Result, error) {
	var ev events.KinesisTimeWindowEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	var data []string
	for _, rec := range ev.Records {
		data = append(data, string(rec.Kinesis.Data))
	}
	r.mu.Lock()
	r.batches = append(r.batches, data)
	r.windows = append(r.windows, ev)
	r.mu.Unlock()
	if r.fail != nil {
		return r.fail(data, ev)
	}
	return &Result{Payload: []byte(`{}`)}, nil
}

func (r *recorder) seen() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]string(nil), r.batches...)
}

func runESM(t *testing.T, e *ESM, until func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() { e.Run(ctx); close(done) }()
	for ctx.Err() == nil && !until() {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
}

func recs(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("r%02d", i))
	}
	return out
}

func TestESMBatchSize(t *testing.T) {
	env := newESMEnv(t)
	env.stream(t, "s1", recs(1, 12)...)
	r := &recorder{}
	e := &ESM{M: Mapping{Stream: "s1", BatchSize: 5, StartingPosition: "TRIM_HORIZON", MaxRetryAttempts: -1}, Kinesis: env.k, Invoke: r.invoke, Poll: 10 * time.Millisecond}
	runESM(t, e, func() bool { return len(r.seen()) >= 3 })
	got := fmt.Sprint(r.seen())
	if got != fmt.Sprint([][]string{recs(1, 5), recs(6, 10), recs(11, 12)}) {
		t.Fatalf("batches %s", got)
	}
}

func TestESMReportBatchItemFailuresResumesFromTheFirstFailure(t *testing.T) {
	env := newESMEnv(t)
	env.stream(t, "s2", recs(1, 6)...)
	failed := false
	r := &recorder{}
	r.fail = func(data []string, ev events.KinesisTimeWindowEvent) (*Result, error) {
		if !failed && len(data) == 6 {
			failed = true // r04 fails once; r05 also reported, later
			return &Result{Payload: []byte(`{"batchItemFailures":[{"itemIdentifier":"` + ev.Records[4].Kinesis.SequenceNumber + `"},{"itemIdentifier":"` + ev.Records[3].Kinesis.SequenceNumber + `"}]}`)}, nil
		}
		return &Result{Payload: []byte(`{"batchItemFailures":[]}`)}, nil
	}
	e := &ESM{M: Mapping{Stream: "s2", BatchSize: 10, StartingPosition: "TRIM_HORIZON", ReportBatchItemFailures: true, MaxRetryAttempts: -1},
		Kinesis: env.k, Invoke: r.invoke, Poll: 10 * time.Millisecond}
	runESM(t, e, func() bool { return len(r.seen()) >= 2 })
	if got := fmt.Sprint(r.seen()); got != fmt.Sprint([][]string{recs(1, 6), recs(4, 6)}) {
		t.Fatalf("batches %s", got)
	}
}

func TestESMBisectRetriesAndOnFailure(t *testing.T) {
	env := newESMEnv(t)
	env.stream(t, "s3", recs(1, 4)...)
	q, err := env.q.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String("esm-dlq")})
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	r.fail = func(data []string, _ events.KinesisTimeWindowEvent) (*Result, error) {
		for _, d := range data {
			if d == "r03" { // a poison record
				return &Result{FunctionError: "Unhandled", Payload: []byte(`{"errorType":"Boom","errorMessage":"bad record"}`)}, nil
			}
		}
		return &Result{Payload: []byte(`{}`)}, nil
	}
	e := &ESM{M: Mapping{Stream: "s3", StreamArn: "arn:aws:kinesis:us-east-1:123456789012:stream/s3", BatchSize: 4, StartingPosition: "TRIM_HORIZON",
		Bisect: true, MaxRetryAttempts: 1, OnFailure: "arn:aws:sqs:us-east-1:123456789012:esm-dlq"},
		Kinesis: env.k, SQS: env.q, QueueURL: func(string) string { return aws.ToString(q.QueueUrl) }, Invoke: r.invoke, Poll: 10 * time.Millisecond}
	var msgs []string
	runESM(t, e, func() bool {
		out, err := env.q.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl})
		if err == nil {
			for _, m := range out.Messages {
				msgs = append(msgs, aws.ToString(m.Body))
			}
		}
		return len(msgs) > 0
	})
	// [1-4] fails, bisect: [1-2] succeeds, [3-4] fails again: retries are
	// exhausted and its description goes to the queue.
	if got := fmt.Sprint(r.seen()); got != "[[r01 r02 r03 r04] [r01 r02] [r03 r04]]" {
		t.Fatalf("batches %s", got)
	}
	if len(msgs) != 1 || !strings.Contains(msgs[0], `"batchSize":2`) || !strings.Contains(msgs[0], `"condition":"RetryAttemptsExhausted"`) || strings.Contains(msgs[0], "r03") {
		t.Fatalf("on-failure messages %v", msgs)
	}
}

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// countingKinesis counts the iterators taken and the records read, so a
// test can wait until the mapping has seen what it put.
type countingKinesis struct {
	KinesisAPI
	mu        sync.Mutex
	iterators int
	read      int
	// since counts the reads begun since the last one that returned
	// records: once it is 1, the mapping has acted on those records.
	since int
}

func (k *countingKinesis) GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, opts ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	out, err := k.KinesisAPI.GetShardIterator(ctx, in, opts...)
	k.mu.Lock()
	k.iterators++
	k.mu.Unlock()
	return out, err
}

func (k *countingKinesis) GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, opts ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	k.mu.Lock()
	k.since++
	k.mu.Unlock()
	out, err := k.KinesisAPI.GetRecords(ctx, in, opts...)
	if err == nil && len(out.Records) > 0 {
		k.mu.Lock()
		k.read += len(out.Records)
		k.since = 0
		k.mu.Unlock()
	}
	return out, err
}

func (k *countingKinesis) counts() (iterators, read int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.iterators, k.read
}

// handled reports whether n records were read and the mapping has since
// begun another read, so it has acted on them.
func (k *countingKinesis) handled(n int) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.read >= n && k.since > 0
}

// waitFor polls cond until it holds; after 20 seconds it marks the test
// failed and returns false. It may run on any goroutine.
func waitFor(t *testing.T, what string, cond func() bool) bool {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Errorf("timed out waiting for %s", what)
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

func TestESMTumblingWindowCarriesState(t *testing.T) {
	env := newESMEnv(t)
	env.stream(t, "s4", recs(1, 3)...)
	r := &recorder{}
	r.fail = func(data []string, ev events.KinesisTimeWindowEvent) (*Result, error) {
		n := len(data)
		if c, ok := ev.State["count"]; ok {
			var prev int
			fmt.Sscan(c, &prev)
			n += prev
		}
		return &Result{Payload: []byte(fmt.Sprintf(`{"state":{"count":"%d"},"batchItemFailures":[]}`, n))}, nil
	}
	// Every record arrives in the same one-second window; the clock
	// passes its end only once all three were delivered.
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 200e6, time.UTC)
	clock := &fakeClock{now: t0}
	e := &ESM{M: Mapping{Stream: "s4", BatchSize: 2, StartingPosition: "TRIM_HORIZON", TumblingWindow: time.Second, MaxRetryAttempts: -1},
		Kinesis: env.k, Invoke: r.invoke, Poll: 10 * time.Millisecond,
		Now: clock.Now, Arrival: func(ktypes.Record) time.Time { return t0 }}
	runESM(t, e, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		delivered := 0
		for _, w := range r.windows {
			delivered += len(w.Records)
		}
		if delivered == 3 && clock.Now().Equal(t0) {
			clock.Advance(2 * time.Second)
		}
		n := len(r.windows)
		return n > 0 && r.windows[n-1].IsFinalInvokeForWindow
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	last := r.windows[len(r.windows)-1]
	total := 0
	for _, w := range r.windows[:len(r.windows)-1] {
		total += len(w.Records)
		if w.IsFinalInvokeForWindow {
			t.Fatalf("a non-final invoke is marked final")
		}
	}
	if total != 3 || len(last.Records) != 0 || last.State["count"] != "3" || last.Window.End.Sub(last.Window.Start.Time) != time.Second || last.ShardID == "" {
		t.Fatalf("windows: %d records before the final invoke; final %+v", total, last.TimeWindowProperties)
	}
	if !last.Window.Start.Equal(t0.Truncate(time.Second)) {
		t.Fatalf("window starts %s, want %s", last.Window.Start, t0.Truncate(time.Second))
	}
}

func TestESMLatestAndBatchingWindow(t *testing.T) {
	env := newESMEnv(t)
	env.stream(t, "s5", recs(1, 3)...) // before the mapping starts: LATEST skips them
	r := &recorder{}
	k := &countingKinesis{KinesisAPI: env.k}
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	e := &ESM{M: Mapping{Stream: "s5", BatchSize: 100, StartingPosition: "LATEST", MaxBatchingWindow: 600 * time.Millisecond, MaxRetryAttempts: -1},
		Kinesis: k, Invoke: r.invoke, Poll: 10 * time.Millisecond, Now: clock.Now}
	put := func(d string) {
		if _, err := env.k.PutRecord(context.Background(), &kinesis.PutRecordInput{StreamName: aws.String("s5"), PartitionKey: aws.String("k"), Data: []byte(d)}); err != nil {
			t.Error(err)
		}
	}
	var early [][]string
	done := make(chan struct{})
	go func() {
		defer close(done)
		if !waitFor(t, "the LATEST iterator", func() bool { it, _ := k.counts(); return it > 0 }) {
			return
		}
		put("r04")
		if !waitFor(t, "r04 read", func() bool { return k.handled(1) }) {
			return
		}
		clock.Advance(300 * time.Millisecond)
		put("r05")
		if !waitFor(t, "r05 read", func() bool { return k.handled(2) }) {
			return
		}
		early = r.seen() // both read, the window still open: nothing delivered
		clock.Advance(300 * time.Millisecond)
	}()
	runESM(t, e, func() bool { return len(r.seen()) > 0 })
	<-done
	if len(early) != 0 {
		t.Fatalf("delivered %v before the 600ms batching window ended", early)
	}
	// One batch with both later records: the window held the first one.
	if got := fmt.Sprint(r.seen()); got != "[[r04 r05]]" {
		t.Fatalf("batches %s", got)
	}
}
