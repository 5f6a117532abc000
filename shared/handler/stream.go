package handler

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	kinesistypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/awslabs/kinesis-aggregation/go/v2/deaggregator"
	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/sluice-etl/sluice/shared/adapter/metrics"
	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/deadline"
	"github.com/sluice-etl/sluice/shared/core/layout"
	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/core/spec"
	"github.com/sluice-etl/sluice/shared/core/window"
	"github.com/sluice-etl/sluice/shared/pipeline/output"
	"github.com/sluice-etl/sluice/shared/pipeline/stream"
)

// WindowStore keeps stream checkpoints, window state and results: the
// window-state table.
type WindowStore interface {
	window.Store
	// PutResults writes closed windows outside a checkpoint (Lambda's own
	// windows); keys are deterministic, so a repeat leaves one each.
	PutResults(ctx context.Context, cells []window.Cell) error
}

// Lambda tumbling-window state keys.
const (
	nativeLast  = "sluice_last_seq"
	nativeCells = "sluice_cells"
)

// isKinesis tells a Kinesis batch (or a tumbling-window one) from the
// other events by the first record's eventSource, or a window member,
// reading tokens and skipping everything else unparsed.
func isKinesis(raw []byte) bool {
	dec := jsontext.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return false
	}
	for dec.PeekKind() == '"' {
		name, err := dec.ReadToken()
		if err != nil {
			return false
		}
		switch name.String() {
		case "window", "isFinalInvokeForWindow":
			return true
		case "Records":
			if dec.PeekKind() != '[' {
				break // null: a window's final invoke may carry none
			}
			if _, err := dec.ReadToken(); err != nil || dec.PeekKind() != '{' {
				return false
			}
			first, err := dec.ReadValue()
			if err != nil {
				return false
			}
			var rec struct {
				EventSource string `json:"eventSource"`
			}
			return jsonv2.Unmarshal(first, &rec) == nil && rec.EventSource == "aws:kinesis"
		}
		if err := dec.SkipValue(); err != nil {
			return false
		}
	}
	return false
}

// streamPipes caches one stream.Pipeline per spec location; a pipeline is
// used by one invocation at a time.
type streamPipes struct {
	mu    sync.Mutex
	pipes map[string]*stream.Pipeline
}

// shardBatch is one shard's part of a Kinesis event.
type shardBatch struct {
	stream, shard string
	records       []events.KinesisEventRecord
}

// StreamName is the stream's name in a Kinesis stream ARN.
func StreamName(arn string) string {
	if i := strings.LastIndex(arn, ":stream/"); i >= 0 {
		return arn[i+len(":stream/"):]
	}
	return arn
}

func splitShards(recs []events.KinesisEventRecord, shardID string) []*shardBatch {
	var out []*shardBatch
	by := map[string]*shardBatch{}
	for _, r := range recs {
		shard := shardID
		if id, _, ok := strings.Cut(r.EventID, ":"); ok && shard == "" {
			shard = id
		}
		name := StreamName(r.EventSourceArn)
		k := name + "/" + shard
		b, ok := by[k]
		if !ok {
			b = &shardBatch{stream: name, shard: shard}
			by[k] = b
			out = append(out, b)
		}
		b.records = append(b.records, r)
	}
	return out
}

// messages unpacks a shard's records, de-aggregating KPL aggregates. A
// corrupt aggregate becomes one message with Err set, to be quarantined.
func messages(scope string, recs []events.KinesisEventRecord) []stream.Message {
	out := make([]stream.Message, 0, len(recs))
	for _, r := range recs {
		k := r.Kinesis
		base := stream.Message{Shard: scope, Seq: k.SequenceNumber, PartitionKey: k.PartitionKey, Arrival: k.ApproximateArrivalTimestamp.Time, Data: k.Data}
		if !isAggregate(k.Data) {
			out = append(out, base)
			continue
		}
		subs, err := deaggregate(k)
		if err != nil {
			base.Err = fmt.Errorf("KPL aggregate: %w", err)
			out = append(out, base)
			continue
		}
		for i, s := range subs {
			m := base
			m.SubSeq, m.Data, m.PartitionKey = i+1, s.Data, aws.ToString(s.PartitionKey)
			out = append(out, m)
		}
	}
	return out
}

var kplMagic = []byte{0xf3, 0x89, 0x9a, 0xc2}

func isAggregate(b []byte) bool { return len(b) > len(kplMagic) && string(b[:4]) == string(kplMagic) }

// deaggregate unpacks one KPL aggregate with the KPL's own library. It
// passes a record back unchanged when the digest does not match, which is
// an error here, and it can panic on a partition key index out of range.
func deaggregate(k events.KinesisRecord) (subs []kinesistypes.Record, err error) {
	defer func() {
		if p := recover(); p != nil {
			subs, err = nil, fmt.Errorf("malformed aggregate: %v", p)
		}
	}()
	in := kinesistypes.Record{Data: k.Data, PartitionKey: aws.String(k.PartitionKey), SequenceNumber: aws.String(k.SequenceNumber)}
	subs, err = deaggregator.DeaggregateRecords([]kinesistypes.Record{in})
	if err != nil {
		return nil, err
	}
	if len(subs) == 1 && len(subs[0].Data) == len(k.Data) && string(subs[0].Data[:4]) == string(kplMagic) {
		return nil, errors.New("digest mismatch or truncated aggregate")
	}
	return subs, nil
}

func (e *Extractor) pipeline(ctx context.Context, streamName string) (*stream.Pipeline, error) {
	loc, ok := e.s.StreamSpecs[streamName]
	if !ok {
		loc, ok = e.s.StreamSpecs["*"]
	}
	if !ok {
		return nil, fmt.Errorf("%w: stream %q (set %s)", ErrNoSpec, streamName, EnvStreamSpecs)
	}
	p, err := e.plans.Load(ctx, e.d.Open, loc)
	if err != nil {
		return nil, err
	}
	e.pipes.mu.Lock()
	defer e.pipes.mu.Unlock()
	key := loc + "\x00" + p.Spec.Name
	if pl, ok := e.pipes.pipes[key]; ok && pl.Plan() == p {
		return pl, nil
	}
	if e.s.WindowTable == "" || e.d.Windows == nil {
		return nil, fmt.Errorf("extract: the stream path needs %s (the window-state table)", EnvWindowTable)
	}
	if e.s.OutputBucket == "" {
		return nil, fmt.Errorf("extract: the stream path needs %s", EnvOutputBucket)
	}
	staging, err := e.d.Open(ctx, e.s.StagingBucket)
	if err != nil {
		return nil, err
	}
	out, err := e.d.Open(ctx, e.s.OutputBucket)
	if err != nil {
		return nil, err
	}
	var keep time.Duration
	if w := p.Spec.Window; w != nil {
		keep = time.Duration(w.Keep)
	}
	cfg := stream.Config{Plan: p, Staging: staging, Out: out, StagingPrefix: layout.StagingRoot, OutPrefix: e.s.OutputPrefix,
		RejectsPrefix: layout.QuarantinePrefix(p.Spec.Name),
		Store:         e.d.Windows(e.s.WindowTable, keep), Now: e.d.Now, Nonce: nonce, OnReject: rejectSampler(e.s, &e.d, p.Spec.Name)}
	if p.Spec.Sink.Format == codec.SinkDynamoDB {
		if e.d.Tables == nil {
			return nil, errors.New("extract: the spec's sink is dynamodb but no table writer is configured")
		}
		cfg.Table = e.d.Tables(p.Spec.Sink.Table.Name, p.Spec.Sink.Key)
	}
	if cfg.Lake, err = e.streamLake(ctx, p, loc); err != nil {
		return nil, err
	}
	pl, err := stream.New(cfg)
	if err != nil {
		return nil, err
	}
	if e.pipes.pipes == nil {
		e.pipes.pipes = map[string]*stream.Pipeline{}
	}
	e.pipes.pipes[key] = pl
	return pl, nil
}

// streamLake opens and prepares the table of an iceberg sink (nil for
// another sink), once per warm pipeline.
func (e *Extractor) streamLake(ctx context.Context, p *plan.Plan, loc string) (stream.Lake, error) {
	lake, err := e.d.lake(ctx, p, loc)
	if err != nil || lake == nil {
		return nil, err
	}
	if err := lake.Prepare(ctx); err != nil {
		return nil, fmt.Errorf("extract: %w", err)
	}
	return lake, nil
}

func nonce() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// StreamResult is a Kinesis invocation's reply: the partial batch
// failures, and for Lambda's tumbling windows the state to carry.
type StreamResult struct {
	State             map[string]string                `json:"state,omitempty"`
	BatchItemFailures []events.KinesisBatchItemFailure `json:"batchItemFailures"`
}

// HandleKinesis applies a Kinesis batch shard by shard (see applyBatch).
func (e *Extractor) HandleKinesis(ctx context.Context, ev events.KinesisEvent) (*StreamResult, error) {
	return e.applyBatch(ctx, &events.KinesisTimeWindowEvent{KinesisEvent: ev}, false)
}

// HandleKinesisWindow applies a batch in Lambda's own tumbling window and
// answers with the window's state (see applyBatch).
func (e *Extractor) HandleKinesisWindow(ctx context.Context, ev events.KinesisTimeWindowEvent) (*StreamResult, error) {
	return e.applyBatch(ctx, &ev, true)
}

// inWindow tells a batch in Lambda's tumbling window by its window fields.
func inWindow(ev *events.KinesisTimeWindowEvent) bool {
	return ev.Window.Start.Time.Unix() > 0 || ev.State != nil || ev.IsFinalInvokeForWindow
}

// applyBatch applies a Kinesis batch shard by shard. A shard whose
// batch fails has its records returned as batch item failures, so Lambda
// delivers them again from the first; nothing past a failure is
// committed, so nothing is applied twice.
func (e *Extractor) applyBatch(ctx context.Context, ev *events.KinesisTimeWindowEvent, native bool) (*StreamResult, error) {
	res := &StreamResult{BatchItemFailures: []events.KinesisBatchItemFailure{}}
	batches := splitShards(ev.Records, ev.ShardID)
	if native && len(batches) == 0 {
		// The final invoke of a window may carry no records.
		batches = []*shardBatch{{stream: StreamName(ev.EventSourceARN), shard: ev.ShardID}}
	}
	failFrom := -1
	reserve := deadline.Reserve(ctx)
	for bi, b := range batches {
		if bi > 0 && deadline.Near(ctx, reserve) {
			// Too little time left to apply another shard: Lambda
			// delivers these again.
			e.d.Log.Warn("deadline near: shards deferred", "shards", len(batches)-bi)
			failFrom = bi
			break
		}
		stop, err := e.applyShard(ctx, ev, native, b, res)
		if err != nil {
			return nil, err
		}
		if stop {
			failFrom = bi + 1
			break
		}
	}
	if failFrom >= 0 {
		for _, b := range batches[failFrom:] {
			res.BatchItemFailures = append(res.BatchItemFailures, failures(b.records)...)
		}
	}
	if native && len(res.BatchItemFailures) > 0 {
		// Carry the state as it came: the retried records fold in then.
		res.State = ev.State
	}
	return res, nil
}

// applyShard applies one shard's records and adds what must come again to
// res. stop says the spec fails fast and this shard failed.
func (e *Extractor) applyShard(ctx context.Context, ev *events.KinesisTimeWindowEvent, native bool, b *shardBatch, res *StreamResult) (stop bool, err error) {
	pl, err := e.pipeline(ctx, b.stream)
	if err != nil {
		return false, err
	}
	scope := b.stream + "/" + b.shard
	msgs := messages(scope, b.records)
	began := e.d.Now()
	r, err := pl.Apply(ctx, scope, msgs)
	e.streamMetrics(pl.Plan().Spec.Name, scope, began, r, err)
	if err != nil {
		e.d.Log.Error("stream batch failed", "shard", scope, "records", len(b.records), "err", err)
		res.BatchItemFailures = append(res.BatchItemFailures, failures(b.records)...)
		return pl.Plan().Spec.Stream.OnFailure == spec.OnFailureFailFast, nil
	}
	e.d.Log.Info("stream batch", "shard", scope, "new", r.New, "skipped", r.Skipped, "out", r.Counts.Out,
		"rejected", r.Counts.Rejected, "filtered", r.Counts.Filtered, "late", r.Late, "closed_windows", len(r.Closed), "deferred", r.Deferred)
	if r.Deferred > 0 {
		// The deadline came near: what was not applied goes back.
		for _, rec := range b.records {
			if window.After(r.Checkpoint, rec.Kinesis.SequenceNumber) {
				res.BatchItemFailures = append(res.BatchItemFailures, events.KinesisBatchItemFailure{ItemIdentifier: rec.Kinesis.SequenceNumber})
			}
		}
	}
	if native {
		st, err := e.nativeWindow(ctx, pl, ev, scope, msgs)
		if err != nil {
			return false, err
		}
		res.State = st
	}
	return false, nil
}

// failures lists each Kinesis record once (the user records of a KPL
// aggregate share its sequence number).
func failures(recs []events.KinesisEventRecord) []events.KinesisBatchItemFailure {
	out := make([]events.KinesisBatchItemFailure, 0, len(recs))
	for _, r := range recs {
		out = append(out, events.KinesisBatchItemFailure{ItemIdentifier: r.Kinesis.SequenceNumber})
	}
	return out
}

// nativeWindow folds a batch into Lambda's tumbling-window state and, on
// the window's final invoke, writes its results. The state carries its
// own checkpoint, so a retried batch folds in once.
func (e *Extractor) nativeWindow(ctx context.Context, pl *stream.Pipeline, ev *events.KinesisTimeWindowEvent, scope string, msgs []stream.Message) (map[string]string, error) {
	if _, ok := pl.NativeSpec(); !ok {
		return nil, fmt.Errorf("extract: Lambda passed a tumbling window, but spec %q does not set window.native", pl.Plan().Spec.Name)
	}
	b := window.Bounds{Start: ev.Window.Start.UnixMilli(), End: ev.Window.End.UnixMilli()}
	cells := map[string]*window.Cell{}
	if s := ev.State[nativeCells]; s != "" {
		if err := json.Unmarshal([]byte(s), &cells); err != nil {
			return nil, fmt.Errorf("extract: window state: %w", err)
		}
	}
	last := ev.State[nativeLast]
	recs, err := pl.WindowRecords(msgs, last)
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		c, ok := cells[r.Key]
		if !ok {
			c = &window.Cell{Window: b, Key: r.Key, Shard: scope, Fields: map[string]window.Agg{}}
			cells[r.Key] = c
		}
		c.Count++
		for f, v := range r.Values {
			a := c.Fields[f]
			a.Add(v)
			c.Fields[f] = a
		}
		last = r.Seq
	}
	if n := len(msgs); n > 0 && window.After(last, msgs[n-1].Seq) {
		last = msgs[n-1].Seq
	}
	if ev.IsFinalInvokeForWindow {
		out := make([]window.Cell, 0, len(cells))
		for _, c := range cells {
			out = append(out, *c)
		}
		if err := e.d.Windows(e.s.WindowTable, 0).PutResults(ctx, out); err != nil {
			return nil, fmt.Errorf("extract: window %d/%d results: %w", b.Start, b.End, err)
		}
		e.d.Log.Info("window closed", "shard", scope, "window_start", b.Start, "keys", len(out))
		return map[string]string{}, nil
	}
	data, err := json.Marshal(cells)
	if err != nil {
		return nil, err
	}
	return map[string]string{nativeCells: string(data), nativeLast: last}, nil
}

// streamMetrics writes one EMF line per shard batch: counts, never values.
func (e *Extractor) streamMetrics(pipeline, scope string, began time.Time, r stream.Result, err error) {
	if e.d.EMF == nil {
		return
	}
	run := metrics.Run{RunID: scope + "/" + r.Checkpoint, Pipeline: pipeline, Source: "kinesis:" + scope, Status: output.StatusSucceeded,
		In: r.Counts.In, Out: r.Counts.Out, Rejected: r.Counts.Rejected, Filtered: r.Counts.Filtered,
		ByRule: r.Counts.RejectedByRule, ByReason: r.Counts.FilteredByReason, Parts: len(r.Published),
		StartedAt: began, FinishedAt: e.d.Now()}
	run.DurationMS = float64(run.FinishedAt.Sub(began)) / 1e6
	if err != nil {
		run.Status, run.Error = output.StatusFailed, err.Error()
	}
	if werr := metrics.WriteEMF(e.d.EMF, e.s.Stack, run); werr != nil {
		e.d.Log.Warn("emf", "err", werr)
	}
}
