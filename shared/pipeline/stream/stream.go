// Package stream is the stream path's core, free of AWS: it applies a
// compiled spec to a shard's batch of messages exactly once. Records at or
// below the shard's checkpoint are skipped, so a replayed or retried batch
// changes nothing. The new records are decoded, transformed, folded into
// the spec's windows, and written to staging; the checkpoint, the window
// state, the shard's counts and the list of staged outputs are then saved
// in one conditional step (window.Transact), and only then are the staged
// outputs published under deterministic keys. A crash between the save and
// the publishing is finished by the next invocation on the shard.
package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/core/accounting"
	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/deadline"
	"github.com/sluice-etl/sluice/shared/core/layout"
	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/core/record"
	"github.com/sluice-etl/sluice/shared/core/spec"
	"github.com/sluice-etl/sluice/shared/core/window"
	"github.com/sluice-etl/sluice/shared/pipeline/output"
)

// Message is one stream record as the source delivered it.
type Message struct {
	// Shard is the checkpoint scope: the stream's name and the shard id,
	// as "<stream>/<shard id>".
	Shard string
	// Seq is the sequence number; SubSeq numbers the user records of one
	// KPL aggregate (1-based; 0 for a plain record).
	Seq          string
	SubSeq       int
	PartitionKey string
	Arrival      time.Time
	Data         []byte
	// Err is set when the message could not be unpacked (a corrupt KPL
	// aggregate); it is quarantined.
	Err error
}

// Config is what a Pipeline needs.
type Config struct {
	Plan *plan.Plan
	// Staging holds outputs until their batch is committed; Out receives
	// the published parts, rejects and late records under OutPrefix.
	Staging, Out  storage.Bucket
	StagingPrefix string
	OutPrefix     string
	// RejectsPrefix is where quarantined records go (default
	// OutPrefix/<pipeline>/rejects).
	RejectsPrefix string
	// Table receives the rows of a dynamodb sink.
	Table output.TableWriter
	Store window.Store
	Now   func() time.Time
	// Nonce names one attempt's staging objects apart from another's.
	Nonce func() string
	// OnReject, if set, sees each quarantined record (debug sampling).
	OnReject func(*output.RejectRecord)
	// Lake is the table of an iceberg sink, prepared. If it has
	// FieldIDs() []int, the data files carry those ids (the table's, as
	// it evolved) rather than each column's position plus one.
	Lake Lake
}

// Lake is the table an iceberg sink's stream commits to. Its data files
// are published into Files as batches are checkpointed, and held there
// until one commit makes a shard's held batches part of the table.
type Lake interface {
	// Files is the bucket and key prefix of the table's data files.
	Files() (storage.Bucket, string)
	// CommitStream commits c's data files in one snapshot whose summary
	// names the shard and the sequence range it covers. Batches the table
	// holds already (at or below the shard's last committed sequence
	// number) are left out, so a retried commit adds nothing twice. It
	// returns the number of files it added.
	CommitStream(ctx context.Context, c *Commit) (int, error)
}

// Commit is one table commit of a shard's held batches.
type Commit struct {
	Shard    string             `json:"shard"`
	SpecHash string             `json:"spec_hash"`
	Batches  []window.HeldBatch `json:"batches"`
}

// Pipeline applies one spec to stream batches.
type Pipeline struct {
	cfg    Config
	win    *window.Spec
	fields windowFields
	dec    *codec.MessageDecoder
	proc   *plan.Processor
	kind   codec.SinkFormat
	late   bool
	// native is set for Lambda's own windows.
	native     *plan.Processor
	nativeSpec window.Spec
	// lakePrefix is where an iceberg sink's data files go, and lakeIDs
	// the field ids the table gives the output columns.
	lakePrefix string
	lakeIDs    []int
}

type windowFields struct {
	group []int
	agg   []int
	names []string
	time  int
	scale []int
}

// ErrGlueStream refuses a plain sink that registers in Glue: the stream
// path publishes files a batch at a time and registers none of them.
var ErrGlueStream = errors.New("stream: sink.catalog glue registers the batch path's runs; the stream path does not register its files (use the iceberg sink)")

// ErrNoLake refuses an iceberg sink without its table.
var ErrNoLake = errors.New("stream: the spec's sink is iceberg but no table is configured")

// New compiles a pipeline. It is not safe for concurrent use: each shard
// worker needs its own.
func New(cfg Config) (*Pipeline, error) {
	sp := cfg.Plan.Spec
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Store == nil {
		return nil, errors.New("stream: a checkpoint store is required")
	}
	maxRec := int(sp.Source.MaxRecordBytes)
	opt := plan.CSVOptions(sp, maxRec)
	opt.Columns = sp.Source.CSV.Columns
	dec, err := codec.NewMessageDecoder(sp.Source.Format, cfg.Plan.Columns, opt, cfg.Plan.DecodeOptions)
	if err != nil {
		return nil, fmt.Errorf("stream: %w", err)
	}
	p := &Pipeline{cfg: cfg, dec: dec, proc: cfg.Plan.NewProcessor(), kind: sp.Sink.Format}
	if p.kind == codec.SinkDynamoDB && cfg.Table == nil {
		return nil, errors.New("stream: the spec's sink is dynamodb but no table writer is configured")
	}
	if p.kind != codec.SinkIceberg && sp.Sink.Catalog == spec.CatalogGlue {
		return nil, ErrGlueStream
	}
	if p.kind == codec.SinkIceberg {
		// Its files would be published with no table commit to name them.
		if cfg.Lake == nil {
			return nil, ErrNoLake
		}
		_, p.lakePrefix = cfg.Lake.Files()
		if l, ok := cfg.Lake.(interface{ FieldIDs() []int }); ok {
			p.lakeIDs = l.FieldIDs()
		}
	}
	if sp.Window != nil {
		ws, wf, err := WindowOf(cfg.Plan)
		if err != nil {
			return nil, err
		}
		p.fields = wf
		if sp.Window.Native {
			p.nativeSpec = ws
			p.native = cfg.Plan.NewProcessor()
		} else {
			p.win, p.late = &ws, sp.Window.Late == window.LateSide
		}
	}
	return p, nil
}

// windowRecord is a kept row as a window record; without a time field
// the record's arrival places it.
func (p *Pipeline) windowRecord(m *Message, row []record.Value) window.Record {
	r := p.fields.record(row, &p.cfg.Plan.Full)
	if p.fields.time < 0 {
		r.Time = m.Arrival
	}
	return r
}

// record reads a row's group key, event time and aggregated values.
func (wf windowFields) record(row []record.Value, schema *record.Schema) window.Record {
	r := window.Record{Key: wf.GroupKey(row, schema), Values: make(map[string]float64, len(wf.agg))}
	if wf.time >= 0 {
		r.Time = row[wf.time].Time()
	}
	for j, idx := range wf.agg {
		if v, ok := number(row[idx], wf.scale[j]); ok {
			r.Values[wf.names[j]] = v
		}
	}
	return r
}

// Plan is the compiled spec the pipeline applies.
func (p *Pipeline) Plan() *plan.Plan { return p.cfg.Plan }

// NativeSpec is the window spec of a spec that uses Lambda's own windows.
func (p *Pipeline) NativeSpec() (window.Spec, bool) { return p.nativeSpec, p.native != nil }

// WindowRecords decodes and transforms the messages after the sequence
// number after, and returns the kept ones as window records: for Lambda's
// own windows, whose state Lambda carries with its own checkpoint.
func (p *Pipeline) WindowRecords(msgs []Message, after string) ([]window.SeqRecord, error) {
	if p.native == nil {
		return nil, errors.New("stream: the spec does not use Lambda's own windows")
	}
	var out []window.SeqRecord
	for i := range msgs {
		m := &msgs[i]
		if !window.After(after, m.Seq) || m.Err != nil {
			continue
		}
		rec, err := p.dec.Decode(m.Data)
		if err != nil {
			return nil, fmt.Errorf("stream: sequence number %s: %w", seqName(m), err)
		}
		o, err := p.native.Process(rec)
		if err != nil {
			return nil, err
		}
		if o.Verdict == plan.Keep {
			out = append(out, window.SeqRecord{Seq: m.Seq, Record: p.windowRecord(m, o.Full)})
		}
	}
	return out, nil
}

// WindowOf translates the spec's window section for the window package
// and finds its fields in the plan's full schema.
func WindowOf(p *plan.Plan) (window.Spec, windowFields, error) {
	w := p.Spec.Window
	ws := w.Spec()
	if err := ws.Check(); err != nil {
		return ws, windowFields{}, err
	}
	wf := windowFields{time: -1, names: w.Aggregate}
	for _, g := range w.GroupBy {
		wf.group = append(wf.group, p.Full.Index(g))
	}
	for _, a := range w.Aggregate {
		i := p.Full.Index(a)
		switch p.Full.Fields[i].Kind {
		case record.Int, record.Float, record.Decimal:
		default:
			return ws, wf, fmt.Errorf("window: aggregate field %q is %s, not a number", a, p.Full.Fields[i].Kind)
		}
		wf.agg = append(wf.agg, i)
		wf.scale = append(wf.scale, p.Full.Fields[i].Scale)
	}
	if w.TimeField != "" {
		wf.time = p.Full.Index(w.TimeField)
	}
	return ws, wf, nil
}

// GroupKey renders a row's group key: the field's text for one field, a
// JSON array of texts for several, "" for none. A null is "null".
func (wf windowFields) GroupKey(row []record.Value, schema *record.Schema) string {
	switch len(wf.group) {
	case 0:
		return ""
	case 1:
		return text(row[wf.group[0]], schema.Fields[wf.group[0]].Scale)
	}
	parts := make([]string, len(wf.group))
	for i, g := range wf.group {
		parts[i] = text(row[g], schema.Fields[g].Scale)
	}
	b, _ := json.Marshal(parts)
	return string(b)
}

func text(v record.Value, scale int) string {
	if v.IsNull() {
		return "null"
	}
	return string(record.AppendText(nil, v, scale))
}

// number reads a numeric value as a float64.
func number(v record.Value, scale int) (float64, bool) {
	switch v.Kind {
	case record.Int:
		return float64(v.Int), true
	case record.Float:
		return v.Float, !math.IsNaN(v.Float)
	case record.Decimal:
		return float64(v.Int) / float64(record.Pow10[scale]), true
	}
	return 0, false
}

// Result is what one shard's batch came to.
type Result struct {
	Shard string
	// New records were applied now; Skipped ones were at or below the
	// checkpoint (a replay).
	New, Skipped int
	// Counts are this batch's: in = out + rejected + filtered.
	Counts accounting.Counts
	Late   int64
	Closed []window.Cell
	// Published are the output keys written (parts, rejects, late).
	Published []string
	// Checkpoint is the shard's last applied sequence number.
	Checkpoint string
	Attempts   int
	// Deferred records were left for the next invocation: the deadline
	// came near. They are after Checkpoint.
	Deferred int
	// Held is the number of data files held for the table after this
	// batch, and Committed the number a table commit added now.
	Held, Committed int
}

// Apply applies a shard's batch exactly once. msgs must all be of the
// shard, in sequence order. On error nothing of the batch is published
// unless it was committed, and the caller should report the batch's
// records as failed so the source delivers them again.
//
// When the context's deadline comes near, it stops taking records (at a
// Kinesis record's boundary, after at least one), commits what it took,
// and reports the rest as Deferred: the caller returns them as failures,
// and the next invocation resumes after the checkpoint.
func (p *Pipeline) Apply(ctx context.Context, shard string, msgs []Message) (Result, error) {
	res := Result{Shard: shard}
	reserve := deadline.Reserve(ctx)
	var published []string
	c, err := window.Transact(ctx, p.cfg.Store, p.win, shard, p.cfg.Now(),
		func(ctx context.Context, snap window.Snapshot, w *window.Windower) (window.Attempt, error) {
			if err := p.checkHeld(snap); err != nil {
				return window.Attempt{}, err
			}
			// Outputs of the last committed batch first: its invocation
			// may have stopped before publishing them.
			if err := p.publish(ctx, snap.Pending); err != nil {
				return window.Attempt{}, err
			}
			res.New, res.Skipped = 0, 0
			fresh := msgs
			for len(fresh) > 0 && !window.After(snap.LastSeq, fresh[0].Seq) {
				fresh = fresh[1:]
				res.Skipped++
			}
			res.New = len(fresh)
			a := window.Attempt{LastSeq: snap.LastSeq}
			if len(fresh) == 0 {
				return a, nil
			}
			b, err := p.stage(ctx, shard, fresh, w, reserve)
			if err != nil {
				return window.Attempt{}, err
			}
			res.Deferred = len(fresh) - b.taken
			a.LastSeq, a.Pending, a.Counts, a.Late = fresh[b.taken-1].Seq, b.moves, b.counts, b.late
			p.hold(&a, snap, fresh[0].Seq, b)
			return a, nil
		},
		func(a window.Attempt) { p.discard(ctx, a.Pending) })
	if err != nil {
		return res, fmt.Errorf("stream %s: %w", shard, err)
	}
	res.Attempts, res.Checkpoint = c.Attempts, c.Snapshot.LastSeq
	if !c.Saved {
		return res, p.flush(ctx, shard, c.Snapshot, &res)
	}
	res.Counts, res.Late, res.Closed = c.Attempt.Counts, c.Attempt.Late, c.Closed
	if err := p.publish(ctx, c.Snapshot.Pending); err != nil {
		// Committed: the next invocation on the shard publishes them.
		return res, fmt.Errorf("stream %s: committed, publishing deferred: %w", shard, err)
	}
	for _, m := range c.Snapshot.Pending {
		if m.To != "" {
			published = append(published, m.To)
		}
	}
	res.Published = published
	return res, p.flush(ctx, shard, c.Snapshot, &res)
}

type staged struct {
	moves  []window.Move
	counts accounting.Counts
	late   int64
	taken  int // records of fresh processed
	files  []window.HeldFile
}

// stage processes the fresh records and writes their outputs to staging.
func (p *Pipeline) stage(ctx context.Context, shard string, fresh []Message, w *window.Windower, reserve time.Duration) (staged, error) {
	sb := p.newStagedBatch(ctx, shard, fresh[0].Seq, w)
	out, err := sb.take(ctx, fresh, reserve)
	if err == nil {
		err = sb.close(ctx, &out)
	}
	if err != nil {
		sb.abort()
		return staged{}, err
	}
	if out.counts.In != int64(out.taken) {
		return staged{}, fmt.Errorf("stream: %d records in, counted %d", out.taken, out.counts.In)
	}
	return out, nil
}

// stagedBatch is the state of one stage call: the writers of a batch's
// staged outputs.
type stagedBatch struct {
	p       *Pipeline
	shard   string
	first   string
	w       *window.Windower
	rows    *output.RowWriter
	rejects *output.RejectWriter
	late    *lateWriter
}

func (p *Pipeline) newStagedBatch(ctx context.Context, shard, first string, w *window.Windower) *stagedBatch {
	nonce := ""
	if p.cfg.Nonce != nil {
		nonce = p.cfg.Nonce()
	}
	prefix := layout.StreamBatchPrefix(p.cfg.StagingPrefix, p.cfg.Plan.Spec.Name, shard, first, nonce)
	sb := &stagedBatch{p: p, shard: shard, first: first, w: w,
		rows: output.NewRowWriter(ctx, p.cfg.Staging, layout.StreamRowsPrefix(prefix), p.cfg.Plan,
			func(o *output.RowOptions) { o.FieldIDs = p.lakeIDs }),
		rejects: output.NewRejectWriter(ctx, p.cfg.Staging, layout.StagedRejectsKey(prefix))}
	if p.late {
		sb.late = &lateWriter{ctx: ctx, b: p.cfg.Staging, key: layout.StagedLateKey(prefix)}
	}
	return sb
}

func (sb *stagedBatch) abort() {
	sb.rows.Abort()
	sb.rejects.Abort()
	sb.late.abort()
}

// take processes records until the batch ends or the deadline comes near.
func (sb *stagedBatch) take(ctx context.Context, fresh []Message, reserve time.Duration) (staged, error) {
	var out staged
	for i := range fresh {
		m := &fresh[i]
		if i > 0 && m.Seq != fresh[i-1].Seq && (i&63 == 0 || i < 64) && deadline.Near(ctx, reserve) {
			break // the rest waits for the next invocation
		}
		if err := ctx.Err(); err != nil && i&1023 == 1023 {
			return out, err
		}
		out.taken = i + 1
		rec := &codec.RawRecord{Err: m.Err, Raw: m.Data, Index: 1}
		if m.Err == nil {
			var err error
			if rec, err = sb.p.dec.Decode(m.Data); err != nil {
				// A schema contract that fails: the batch fails, and its
				// records are delivered again.
				return out, fmt.Errorf("sequence number %s: %w", seqName(m), err)
			}
		}
		o, err := sb.p.proc.Process(rec)
		if err != nil {
			return out, err
		}
		if err := sb.route(m, i, o, &out); err != nil {
			return out, err
		}
	}
	return out, nil
}

// seqName is a message's sequence number, with its place in a KPL
// aggregate.
func seqName(m *Message) string {
	if m.SubSeq > 0 {
		return fmt.Sprintf("%s/%d", m.Seq, m.SubSeq)
	}
	return m.Seq
}

// route writes and counts one record by its verdict.
func (sb *stagedBatch) route(m *Message, i int, o *plan.Outcome, out *staged) error {
	if o.Verdict == plan.Keep {
		sb.rows.Admit(o) // a row that cannot be partitioned becomes a reject
	}
	switch o.Verdict {
	case plan.Keep:
		if err := sb.rows.Write(o); err != nil {
			return err
		}
		out.counts.AddOut()
		if sb.w != nil && sb.w.Add(sb.p.windowRecord(m, o.Full)) {
			out.late++
			if sb.late != nil {
				return sb.late.write(sb.shard, m)
			}
		}
	case plan.Filtered:
		out.counts.AddFiltered(o.FilterReason)
	case plan.Reject:
		out.counts.AddRejected(o.RuleKey())
		rr := output.RejectRecord{Source: sb.p.cfg.Plan.Spec.Name, Shard: sb.shard, Seq: m.Seq, SubSeq: m.SubSeq, Record: int64(i + 1),
			Field: o.Field, Rule: o.Rule, Reason: o.Reason, Raw: strings.ToValidUTF8(string(m.Data), "\uFFFD")}
		if sb.p.cfg.OnReject != nil {
			sb.p.cfg.OnReject(&rr)
		}
		return sb.rejects.Write(&rr)
	}
	return nil
}

// close commits the staged outputs and lists where each is published
// (or, for a dynamodb sink, upserts the rows now).
func (sb *stagedBatch) close(ctx context.Context, out *staged) error {
	parts, err := sb.rows.Close()
	if err != nil {
		return err
	}
	rp, err := sb.rejects.Close()
	if err != nil {
		return err
	}
	lp, err := sb.late.close()
	if err != nil {
		return err
	}
	cfg := sb.p.cfg
	outPrefix := layout.PipelinePrefix(cfg.OutPrefix, cfg.Plan.Spec.Name)
	for _, part := range parts {
		mv, err := sb.partMove(ctx, outPrefix, part)
		if err != nil {
			return err
		}
		out.moves = append(out.moves, mv)
		if mv.Table {
			out.files = append(out.files, window.HeldFile{Key: mv.To, Partition: part.Partition, Records: part.Records, Bytes: part.Bytes})
		}
	}
	if rp != nil {
		rejects := cfg.RejectsPrefix
		if rejects == "" {
			rejects = layout.LocalRejects(outPrefix)
		}
		out.moves = append(out.moves, window.Move{From: rp.Key, To: layout.StreamRejectsKey(rejects, sb.shard, sb.first)})
	}
	if lp != "" {
		out.moves = append(out.moves, window.Move{From: lp, To: layout.LateKey(outPrefix, sb.shard, sb.first)})
	}
	return nil
}

// partMove is where a staged part goes; a dynamodb sink's rows are
// upserted now and the part is only removed.
func (sb *stagedBatch) partMove(ctx context.Context, outPrefix string, part output.Part) (window.Move, error) {
	cfg := sb.p.cfg
	switch sb.p.kind {
	case codec.SinkIceberg:
		return window.Move{From: part.Key, To: layout.StreamPartKey(sb.p.lakePrefix, part.Partition, sb.shard, sb.first, part.Key), Table: true}, nil
	case codec.SinkDynamoDB:
	default:
		return window.Move{From: part.Key, To: layout.StreamPartKey(outPrefix, part.Partition, sb.shard, sb.first, part.Key)}, nil
	}
	n, err := output.UpsertPart(ctx, cfg.Staging, part.Key, cfg.Table)
	if err != nil {
		return window.Move{}, fmt.Errorf("upsert: %w", err)
	}
	if n != part.Records {
		return window.Move{}, fmt.Errorf("upsert: %s held %d rows, not %d", part.Key, n, part.Records)
	}
	return window.Move{From: part.Key}, nil
}

// publish copies staged outputs to their final keys and removes the
// staged copies. A move whose staged copy is gone was published already:
// a staged copy is removed only once its copy is written (or, for an
// attempt that lost, never saved as pending). Its final key may be gone
// since, merged into a larger file by compaction.
func (p *Pipeline) publish(ctx context.Context, moves []window.Move) error {
	for _, m := range moves {
		if m.Table && p.cfg.Lake == nil {
			// Published by the spec before this one, which had an
			// iceberg sink; checkHeld saw that nothing waits.
			continue
		}
		if m.To != "" {
			dst := p.cfg.Out
			if m.Table {
				dst, _ = p.cfg.Lake.Files()
			}
			err := storage.CopyBetween(ctx, dst, m.To, p.cfg.Staging, m.From)
			if errors.Is(err, storage.ErrNotFound) {
				continue
			}
			if err != nil {
				return fmt.Errorf("publish %s: %w", m.To, err)
			}
		}
		if err := p.cfg.Staging.Delete(ctx, m.From); err != nil {
			return fmt.Errorf("publish: remove %s: %w", m.From, err)
		}
	}
	return nil
}

// discard removes the staged outputs of an attempt that lost a conflict.
func (p *Pipeline) discard(ctx context.Context, moves []window.Move) {
	for _, m := range moves {
		_ = p.cfg.Staging.Delete(ctx, m.From)
	}
}

// lateWriter writes the late side output: the source record with its
// shard and sequence number, one JSON line each.
type lateWriter struct {
	ctx  context.Context
	b    storage.Bucket
	key  string
	w    storage.Writer
	line []byte
}

func (l *lateWriter) write(shard string, m *Message) error {
	if l.w == nil {
		w, err := l.b.NewWriter(l.ctx, l.key)
		if err != nil {
			return fmt.Errorf("late output: %w", err)
		}
		l.w = w
	}
	b := append(l.line[:0], `{"shard":`...)
	b = codec.AppendJSONString(b, []byte(shard))
	b = append(b, `,"sequence_number":`...)
	b = codec.AppendJSONString(b, []byte(m.Seq))
	if m.SubSeq > 0 {
		b = fmt.Appendf(b, `,"sub_sequence_number":%d`, m.SubSeq)
	}
	b = append(b, `,"data":`...)
	b = codec.AppendJSONString(b, m.Data)
	b = append(b, "}\n"...)
	l.line = b
	_, err := l.w.Write(b)
	return err
}

func (l *lateWriter) close() (string, error) {
	if l == nil || l.w == nil {
		return "", nil
	}
	if err := l.w.Close(); err != nil {
		return "", fmt.Errorf("late output: %w", err)
	}
	return l.key, nil
}

func (l *lateWriter) abort() {
	if l != nil && l.w != nil {
		_ = l.w.Abort()
	}
}
