package output

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/layout"
	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/core/record"
	"github.com/sluice-etl/sluice/shared/core/spec"
)

// Part is one written data file.
type Part struct {
	Key       string `json:"key"`
	Partition string `json:"partition,omitempty"`
	Records   int64  `json:"records"`
	Bytes     int64  `json:"bytes"`
}

// HiveNull is the partition value Hive uses for null.
const HiveNull = layout.HiveNull

// MaxPartitionSegment is the longest partition folder name, key=value
// once escaped: the file-name limit of common file systems.
const MaxPartitionSegment = 255

// RulePartition is the rule of a record whose partition folder name is
// over MaxPartitionSegment bytes.
const RulePartition = "partition"

// partitioner computes the Hive partition path of a row.
type partitioner struct {
	keys   []string
	fields []string
	// over is the first partition whose folder name is too long in the
	// last path, or -1; overLen is that name's length.
	over, overLen int
	idx           []int
	scales        []int
	kinds         []record.Kind
	layouts       []string
	buf           []byte
	text          []byte
}

func newPartitioner(sp *spec.Spec, full *record.Schema) *partitioner {
	pt := &partitioner{}
	for _, p := range sp.Sink.PartitionBy {
		i := full.Index(p.Field)
		pt.keys = append(pt.keys, p.Key)
		pt.fields = append(pt.fields, p.Field)
		pt.idx = append(pt.idx, i)
		pt.scales = append(pt.scales, full.Fields[i].Scale)
		pt.kinds = append(pt.kinds, full.Fields[i].Kind)
		l := p.Layout
		if sp.Sink.Format == codec.SinkIceberg {
			// One file per value of the Iceberg partition transform.
			l = p.Transform.Layout()
		}
		if l == "" {
			l = time.DateOnly
		}
		pt.layouts = append(pt.layouts, l)
	}
	return pt
}

// path returns the partition path (k1=v1/k2=v2) of a full row. The result
// is valid until the next call.
func (pt *partitioner) path(full []record.Value) []byte {
	b := pt.buf[:0]
	pt.over = -1
	for j, i := range pt.idx {
		if j > 0 {
			b = append(b, '/')
		}
		start := len(b)
		b = append(b, pt.keys[j]...)
		b = append(b, '=')
		v := full[i]
		switch {
		case v.IsNull():
			b = append(b, HiveNull...)
			continue
		case v.Kind == record.Timestamp || v.Kind == record.Date:
			pt.text = v.Time().AppendFormat(pt.text[:0], pt.layouts[j])
		default:
			pt.text = record.AppendText(pt.text[:0], v, pt.scales[j])
		}
		b = layout.AppendHiveEscaped(b, pt.text)
		if n := len(b) - start; n > MaxPartitionSegment && pt.over < 0 {
			pt.over, pt.overLen = j, n
		}
	}
	pt.buf = b
	return b
}

// RequiredColumns says which fields of the output schema the spec
// declares required: they are never null in the output.
func RequiredColumns(sp *spec.Spec, schema *record.Schema) []bool {
	req := make([]bool, len(schema.Fields))
	for i, f := range schema.Fields {
		for _, sf := range sp.Fields {
			if sf.Name == f.Name && sf.Required {
				req[i] = true
			}
		}
	}
	return req
}

// partWriter is one open part file.
type partWriter struct {
	w       storage.Writer
	cw      *countWriter
	comp    io.WriteCloser
	enc     codec.Encoder
	part    Part
	lastUse int64
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// partSet writes rows into part files per partition, rolling files over at
// the row and byte limits and closing the least recently used file when too
// many are open.
type partSet struct {
	ctx      context.Context
	b        storage.Bucket
	prefix   string
	format   codec.SinkFormat
	comp     codec.Compression
	ext      string
	schema   *record.Schema
	encOpt   codec.EncoderOptions
	maxRows  int64
	maxBytes int64
	maxOpen  int
	open     map[string]*partWriter
	seq      map[string]int
	tick     int64
	parts    []Part
}

func newPartSet(ctx context.Context, b storage.Bucket, prefix string, sp *spec.Spec, schema *record.Schema) *partSet {
	ps := &partSet{
		ctx: ctx, b: b, prefix: prefix, schema: schema,
		format:   sp.Sink.Format,
		maxRows:  sp.Sink.MaxRowsPerFile,
		maxBytes: int64(sp.Sink.MaxBytesPerFile),
		maxOpen:  sp.Sink.MaxOpenFiles,
		open:     map[string]*partWriter{},
		seq:      map[string]int{},
	}
	if ps.format == "" || ps.format == codec.SinkDynamoDB {
		// The DynamoDB sink stages JSON Lines; Commit upserts them.
		ps.format = codec.SinkJSONL
	}
	if ps.maxRows == 0 {
		ps.maxRows = spec.DefaultMaxRowsPerFile
	}
	if ps.maxOpen == 0 {
		ps.maxOpen = spec.DefaultMaxOpenFiles
	}
	ps.ext = ps.format.Ext()
	switch ps.format {
	case codec.SinkParquet:
		ps.encOpt.ParquetCompression = sp.Sink.Compression
	case codec.SinkIceberg:
		// Iceberg finds its columns by field id and refuses an optional
		// column for a required field; other sinks' files stay as they were.
		ps.encOpt.ParquetCompression = sp.Sink.Compression
		ps.encOpt.ParquetFieldIDs = true
		ps.encOpt.ParquetRequired = RequiredColumns(sp, schema)
	default:
		ps.comp = sp.Sink.Compression
		switch ps.comp {
		case codec.Gzip:
			ps.ext += ".gz"
		case codec.Zstd:
			ps.ext += ".zst"
		}
	}
	ps.encOpt.CSVDelimiter, _ = spec.CharOption(sp.Sink.CSV.Delimiter)
	return ps
}

func (ps *partSet) write(partition []byte, row []record.Value) error {
	pw, ok := ps.open[string(partition)]
	if !ok {
		var err error
		if pw, err = ps.start(string(partition)); err != nil {
			return err
		}
	}
	if err := pw.enc.Encode(row); err != nil {
		return fmt.Errorf("encode %s: %w", pw.part.Key, err)
	}
	pw.part.Records++
	ps.tick++
	pw.lastUse = ps.tick
	if pw.part.Records >= ps.maxRows || (ps.maxBytes > 0 && pw.cw.n >= ps.maxBytes) {
		return ps.finish(pw)
	}
	return nil
}

func (ps *partSet) start(partition string) (*partWriter, error) {
	if len(ps.open) >= ps.maxOpen {
		var oldest *partWriter
		for _, pw := range ps.open {
			if oldest == nil || pw.lastUse < oldest.lastUse {
				oldest = pw
			}
		}
		if err := ps.finish(oldest); err != nil {
			return nil, err
		}
	}
	seq := ps.seq[partition]
	ps.seq[partition] = seq + 1
	key := layout.StagedPartKey(ps.prefix, partition, seq, ps.ext)
	w, err := ps.b.NewWriter(ps.ctx, key)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", key, err)
	}
	pw := &partWriter{w: w, cw: &countWriter{w: w}, part: Part{Key: key, Partition: partition}}
	var dst io.Writer = pw.cw
	switch ps.comp {
	case codec.Gzip:
		gz, _ := gzip.NewWriterLevel(pw.cw, gzip.DefaultCompression)
		pw.comp, dst = gz, gz
	case codec.Zstd:
		zw, err := zstd.NewWriter(pw.cw, zstd.WithEncoderConcurrency(1))
		if err != nil {
			_ = w.Abort()
			return nil, err
		}
		pw.comp, dst = zw, zw
	}
	enc, err := codec.NewEncoder(dst, ps.format, ps.schema, ps.encOpt)
	if err != nil {
		_ = w.Abort()
		return nil, err
	}
	pw.enc = enc
	ps.open[partition] = pw
	return pw, nil
}

func (ps *partSet) finish(pw *partWriter) error {
	delete(ps.open, pw.part.Partition)
	err := pw.enc.Close()
	if err == nil && pw.comp != nil {
		err = pw.comp.Close()
	}
	if err != nil {
		_ = pw.w.Abort()
		return fmt.Errorf("finish %s: %w", pw.part.Key, err)
	}
	if err := pw.w.Close(); err != nil {
		return fmt.Errorf("commit %s: %w", pw.part.Key, err)
	}
	pw.part.Bytes = pw.cw.n
	ps.parts = append(ps.parts, pw.part)
	return nil
}

// close finishes every open file and returns the parts in key order.
func (ps *partSet) close() ([]Part, error) {
	for _, pw := range ps.open {
		if err := ps.finish(pw); err != nil {
			ps.abort()
			return nil, err
		}
	}
	sortParts(ps.parts)
	return ps.parts, nil
}

func (ps *partSet) abort() {
	for _, pw := range ps.open {
		_ = pw.w.Abort()
	}
	ps.open = map[string]*partWriter{}
}

func sortParts(p []Part) {
	slices.SortFunc(p, func(a, b Part) int { return strings.Compare(a.Key, b.Key) })
}

// RowWriter writes kept rows into part files under a prefix, partitioned
// and rolled over as the spec's sink says.
type RowWriter struct {
	ps *partSet
	pt *partitioner
	// part is the partition path Admit computed for the next Write.
	part     []byte
	admitted bool
}

// RowOptions tune a RowWriter.
type RowOptions struct {
	// FieldIDs are the iceberg sink's field ids of the output columns, in
	// order: the ids the table gives them (batch.Job.FieldIDs). Without
	// them a column's id is its position plus one (codec.IcebergFieldID),
	// the ids of a table created from the spec and never evolved.
	FieldIDs []int
}

// NewRowWriter starts writing parts under prefix in b.
func NewRowWriter(ctx context.Context, b storage.Bucket, prefix string, p *plan.Plan, optFns ...func(*RowOptions)) *RowWriter {
	var opt RowOptions
	for _, fn := range optFns {
		fn(&opt)
	}
	ps := newPartSet(ctx, b, prefix, p.Spec, &p.Out)
	if ps.format == codec.SinkIceberg {
		ps.encOpt.FieldIDs = opt.FieldIDs
	}
	return &RowWriter{ps: ps, pt: newPartitioner(p.Spec, &p.Full)}
}

// Admit checks that a kept record's partition folders can be written.
// A record with a folder name over MaxPartitionSegment bytes becomes a
// reject of rule RulePartition on the partition's field (the reason names
// no value), and Admit reports false; otherwise the next Write uses the
// path it computed.
func (w *RowWriter) Admit(out *plan.Outcome) bool {
	if len(w.pt.idx) == 0 {
		return true
	}
	w.part, w.admitted = w.pt.path(out.Full), true
	if j := w.pt.over; j >= 0 {
		w.admitted = false
		out.Verdict, out.Field, out.Rule = plan.Reject, w.pt.fields[j], RulePartition
		out.Reason = fmt.Sprintf("partition folder %s=... is %d bytes once escaped; at most %d", w.pt.keys[j], w.pt.overLen, MaxPartitionSegment)
		return false
	}
	return true
}

// Write writes one kept record's row.
func (w *RowWriter) Write(out *plan.Outcome) error {
	part := w.part
	if !w.admitted {
		part = nil
		if len(w.pt.idx) > 0 {
			part = w.pt.path(out.Full)
		}
	}
	w.admitted = false
	return w.ps.write(part, out.Row)
}

// Close commits every part and returns them in key order.
func (w *RowWriter) Close() ([]Part, error) { return w.ps.close() }

// Abort discards the parts still open.
func (w *RowWriter) Abort() { w.ps.abort() }
