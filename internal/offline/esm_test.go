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
	e := &ESM{M: Mapping{Stream: "s4", BatchSize: 2, StartingPosition: "TRIM_HORIZON", TumblingWindow: time.Second, MaxRetryAttempts: -1},
		Kinesis: env.k, Invoke: r.invoke, Poll: 10 * time.Millisecond}
	runESM(t, e, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
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
}

func TestESMLatestAndBatchingWindow(t *testing.T) {
	env := newESMEnv(t)
	env.stream(t, "s5", recs(1, 3)...) // before the mapping starts: LATEST skips them
	r := &recorder{}
	e := &ESM{M: Mapping{Stream: "s5", BatchSize: 100, StartingPosition: "LATEST", MaxBatchingWindow: 600 * time.Millisecond, MaxRetryAttempts: -1},
		Kinesis: env.k, Invoke: r.invoke, Poll: 10 * time.Millisecond}
	putAt := make(chan time.Time, 1)
	var delivered time.Time
	go func() {
		time.Sleep(300 * time.Millisecond)
		putAt <- time.Now()
		for _, d := range recs(4, 5) {
			env.k.PutRecord(context.Background(), &kinesis.PutRecordInput{StreamName: aws.String("s5"), PartitionKey: aws.String("k"), Data: []byte(d)})
			time.Sleep(100 * time.Millisecond)
		}
	}()
	runESM(t, e, func() bool {
		if len(r.seen()) > 0 && delivered.IsZero() {
			delivered = time.Now()
		}
		return len(r.seen()) > 0
	})
	// One batch with both later records: the window held the first one.
	if got := fmt.Sprint(r.seen()); got != "[[r04 r05]]" {
		t.Fatalf("batches %s", got)
	}
	if wait := delivered.Sub(<-putAt); wait < 500*time.Millisecond {
		t.Fatalf("delivered %s after the first record; the batching window is 600ms", wait)
	}
}
