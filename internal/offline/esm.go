package offline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Mapping is a Kinesis event source mapping as template.yaml declares it.
type Mapping struct {
	Function                string
	Stream                  string
	StreamArn               string
	BatchSize               int
	MaxBatchingWindow       time.Duration
	StartingPosition        string // TRIM_HORIZON or LATEST
	TumblingWindow          time.Duration
	ReportBatchItemFailures bool
	Bisect                  bool
	MaxRetryAttempts        int // -1: until the records expire
	OnFailure               string
}

// Invoker runs one invocation of the mapped function.
type Invoker func(ctx context.Context, payload []byte) (*Result, error)

// KinesisAPI is the part of the Kinesis client the mapping reads with.
type KinesisAPI interface {
	ListShards(context.Context, *kinesis.ListShardsInput, ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
	GetShardIterator(context.Context, *kinesis.GetShardIteratorInput, ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error)
	GetRecords(context.Context, *kinesis.GetRecordsInput, ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error)
}

// SendMessageAPI sends OnFailure records.
type SendMessageAPI interface {
	SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// ESM polls every shard of a stream and delivers batches as Lambda does.
type ESM struct {
	M        Mapping
	Kinesis  KinesisAPI
	SQS      SendMessageAPI
	QueueURL func(arn string) string
	Invoke   Invoker
	Log      *slog.Logger
	// Poll is the wait between empty reads (default 100 ms).
	Poll time.Duration
	// Duplicate, if set, is asked after each successful batch; true
	// delivers the same batch once more, as Kinesis may.
	Duplicate func() bool
	// Now is the mapping's clock: batching windows and the end of tumbling
	// windows are measured with it (default time.Now).
	Now func() time.Time
	// Arrival gives a record's arrival time, which places it in a tumbling
	// window (default: the stream's ApproximateArrivalTimestamp).
	Arrival func(ktypes.Record) time.Time
}

// Run polls until ctx ends.
func (e *ESM) Run(ctx context.Context) error {
	if e.Poll == 0 {
		e.Poll = 100 * time.Millisecond
	}
	if e.Now == nil {
		e.Now = time.Now
	}
	if e.Arrival == nil {
		e.Arrival = arrival
	}
	if e.Log == nil {
		e.Log = slog.New(slog.DiscardHandler)
	}
	if e.M.BatchSize <= 0 {
		e.M.BatchSize = 100
	}
	shards, err := e.Kinesis.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(e.M.Stream)})
	if err != nil {
		return fmt.Errorf("esm %s: list shards: %w", e.M.Stream, err)
	}
	var wg sync.WaitGroup
	for _, sh := range shards.Shards {
		wg.Go(func() { e.shard(ctx, aws.ToString(sh.ShardId)) })
	}
	wg.Wait()
	return nil
}

type windowState struct {
	start, end time.Time
	state      map[string]string
	open       bool
}

func (e *ESM) shard(ctx context.Context, shardID string) {
	pos := ktypes.ShardIteratorTypeTrimHorizon
	if e.M.StartingPosition == "LATEST" {
		pos = ktypes.ShardIteratorTypeLatest
	}
	it, err := e.Kinesis.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(e.M.Stream), ShardId: aws.String(shardID), ShardIteratorType: pos})
	if err != nil {
		e.Log.Warn("esm: shard iterator", "shard", shardID, "err", err)
		return
	}
	iter := it.ShardIterator
	var buf []ktypes.Record
	var first time.Time
	win := &windowState{}
	for ctx.Err() == nil {
		out, err := e.Kinesis.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(int32(e.M.BatchSize))})
		if err != nil {
			if ctx.Err() == nil {
				e.Log.Warn("esm: get records", "shard", shardID, "err", err)
				sleep(ctx, e.Poll)
			}
			continue
		}
		iter = out.NextShardIterator
		if len(out.Records) > 0 && len(buf) == 0 {
			first = e.Now()
		}
		buf = append(buf, out.Records...)
		due := len(buf) >= e.M.BatchSize || (len(buf) > 0 && e.Now().Sub(first) >= e.M.MaxBatchingWindow)
		if due {
			n := min(len(buf), e.M.BatchSize)
			e.deliver(ctx, shardID, buf[:n], win)
			buf = append(buf[:0], buf[n:]...)
			if len(buf) > 0 {
				first = e.Now()
			}
		}
		if e.M.TumblingWindow > 0 && win.open && len(buf) == 0 && e.Now().After(win.end) {
			e.closeWindow(ctx, shardID, win)
		}
		if len(out.Records) == 0 {
			sleep(ctx, e.Poll)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// deliver sends records until each is processed, retried out, or sent to
// the OnFailure destination. With tumbling windows it splits the batch at
// window boundaries and carries the state.
func (e *ESM) deliver(ctx context.Context, shardID string, recs []ktypes.Record, win *windowState) {
	if e.M.TumblingWindow <= 0 {
		e.attempt(ctx, shardID, recs, nil, 0)
		return
	}
	for len(recs) > 0 {
		start := windowStart(e.Arrival(recs[0]), e.M.TumblingWindow)
		if win.open && !start.Equal(win.start) {
			e.closeWindow(ctx, shardID, win)
		}
		if !win.open {
			*win = windowState{start: start, end: start.Add(e.M.TumblingWindow), state: map[string]string{}, open: true}
		}
		n := 0
		for n < len(recs) && windowStart(e.Arrival(recs[n]), e.M.TumblingWindow).Equal(start) {
			n++
		}
		e.attempt(ctx, shardID, recs[:n], win, 0)
		recs = recs[n:]
	}
}

func (e *ESM) closeWindow(ctx context.Context, shardID string, win *windowState) {
	e.attempt(ctx, shardID, nil, win, 0)
	win.open = false
}

func arrival(r ktypes.Record) time.Time {
	if r.ApproximateArrivalTimestamp != nil {
		return *r.ApproximateArrivalTimestamp
	}
	return time.Time{}
}

func windowStart(t time.Time, w time.Duration) time.Time {
	return t.Truncate(w)
}

// attempt invokes with recs (a final window invoke when recs is empty and
// win is set) and handles failures as Lambda does: partial failures
// resume from the lowest failed sequence number, function errors retry the
// batch, bisecting it when configured, until MaxRetryAttempts, and then go
// to OnFailure.
func (e *ESM) attempt(ctx context.Context, shardID string, recs []ktypes.Record, win *windowState, retries int) {
	for ctx.Err() == nil {
		payload := e.event(shardID, recs, win)
		res, err := e.Invoke(ctx, payload)
		failedFrom := -1 // index of the first record to retry; -1: none
		switch {
		case err != nil || res.FunctionError != "":
			failedFrom = 0
		case e.M.ReportBatchItemFailures || win != nil:
			var resp events.KinesisTimeWindowEventResponse
			if json.Unmarshal(res.Payload, &resp) != nil {
				failedFrom = 0
				break
			}
			if win != nil && resp.State != nil {
				win.state = resp.State
			}
			if e.M.ReportBatchItemFailures {
				failedFrom = lowestFailed(recs, resp.BatchItemFailures)
			}
		}
		if failedFrom < 0 {
			if win != nil && len(recs) == 0 {
				win.state = map[string]string{}
			}
			if len(recs) > 0 && e.Duplicate != nil && e.Duplicate() {
				// At-least-once delivery: the same records again. Their
				// outcome is the function's business; it must change nothing.
				if _, err := e.Invoke(ctx, e.event(shardID, recs, win)); err != nil && e.Log != nil {
					e.Log.Debug("duplicate delivery", "err", err)
				}
			}
			return
		}
		if failedFrom > 0 {
			recs = recs[failedFrom:] // checkpoint before the first failure
		}
		retries++
		if e.M.MaxRetryAttempts >= 0 && retries > e.M.MaxRetryAttempts {
			e.onFailure(ctx, shardID, recs, retries)
			return
		}
		if e.M.Bisect && failedFrom == 0 && len(recs) > 1 && (err != nil || res.FunctionError != "") {
			half := len(recs) / 2
			e.attempt(ctx, shardID, recs[:half], win, retries)
			e.attempt(ctx, shardID, recs[half:], win, retries)
			return
		}
		sleep(ctx, e.Poll)
	}
}

// lowestFailed returns the index of the first record whose sequence number
// a failure names, 0 when a failure names none of them, or -1.
func lowestFailed(recs []ktypes.Record, fails []events.KinesisBatchItemFailure) int {
	if len(fails) == 0 {
		return -1
	}
	idx := -1
	for _, f := range fails {
		found := false
		for i, r := range recs {
			if aws.ToString(r.SequenceNumber) == f.ItemIdentifier {
				found = true
				if idx < 0 || i < idx {
					idx = i
				}
			}
		}
		if !found {
			return 0 // an unknown or empty identifier fails the whole batch
		}
	}
	return idx
}

func (e *ESM) event(shardID string, recs []ktypes.Record, win *windowState) []byte {
	ev := events.KinesisTimeWindowEvent{}
	ev.Records = []events.KinesisEventRecord{}
	for _, r := range recs {
		ev.Records = append(ev.Records, events.KinesisEventRecord{
			AwsRegion: "us-east-1", EventID: shardID + ":" + aws.ToString(r.SequenceNumber), EventName: "aws:kinesis:record",
			EventSource: "aws:kinesis", EventSourceArn: e.M.StreamArn, EventVersion: "1.0",
			Kinesis: events.KinesisRecord{ApproximateArrivalTimestamp: events.SecondsEpochTime{Time: e.Arrival(r)}, Data: r.Data,
				PartitionKey: aws.ToString(r.PartitionKey), SequenceNumber: aws.ToString(r.SequenceNumber), KinesisSchemaVersion: "1.0"},
		})
	}
	if win == nil {
		b, _ := json.Marshal(ev.KinesisEvent)
		return b
	}
	ev.Window = events.Window{Start: events.RFC3339EpochTime{Time: win.start}, End: events.RFC3339EpochTime{Time: win.end}}
	ev.State = win.state
	ev.ShardID = shardID
	ev.EventSourceARN = e.M.StreamArn
	ev.IsFinalInvokeForWindow = len(recs) == 0
	b, _ := json.Marshal(ev)
	return b
}

// onFailure sends the batch's description (not its data) to the
// destination, as Lambda's OnFailure record does, and moves on.
func (e *ESM) onFailure(ctx context.Context, shardID string, recs []ktypes.Record, attempts int) {
	if e.M.OnFailure == "" || e.SQS == nil || len(recs) == 0 {
		e.Log.Warn("esm: batch dropped after retries", "shard", shardID, "records", len(recs))
		return
	}
	seqs := make([]string, len(recs))
	for i, r := range recs {
		seqs[i] = aws.ToString(r.SequenceNumber)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqLess(seqs[i], seqs[j]) })
	body, _ := json.Marshal(map[string]any{
		"requestContext":  map[string]any{"condition": "RetryAttemptsExhausted", "approximateInvokeCount": attempts, "functionArn": e.M.Function},
		"responseContext": map[string]any{"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
		"KinesisBatchInfo": map[string]any{"shardId": shardID, "startSequenceNumber": seqs[0], "endSequenceNumber": seqs[len(seqs)-1],
			"batchSize": len(recs), "streamArn": e.M.StreamArn},
	})
	if _, err := e.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(e.QueueURL(e.M.OnFailure)), MessageBody: aws.String(string(body))}); err != nil {
		e.Log.Warn("esm: on-failure destination", "err", errors.Join(err))
	}
}

func seqLess(a, b string) bool {
	if len(a) != len(b) {
		ai, aerr := strconv.ParseUint(a, 10, 64)
		bi, berr := strconv.ParseUint(b, 10, 64)
		if aerr == nil && berr == nil {
			return ai < bi
		}
		return len(a) < len(b)
	}
	return a < b
}
