package output

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/plan"
)

// RejectRecord is one quarantined record as written to the rejects folder.
type RejectRecord struct {
	Source string `json:"source"`
	// Shard and Seq place a stream record: its shard and sequence number
	// (SubSeq numbers the user records of a KPL aggregate).
	Shard  string `json:"shard,omitempty"`
	Seq    string `json:"sequence_number,omitempty"`
	SubSeq int    `json:"sub_sequence_number,omitempty"`
	Chunk  int    `json:"chunk"`
	Line   int64  `json:"line,omitempty"`
	Record int64  `json:"record"`
	Offset int64  `json:"offset"`
	Field  string `json:"field,omitempty"`
	Rule   string `json:"rule"`
	Reason string `json:"reason"`
	Raw    string `json:"raw"`
}

// MaxRawInReject bounds the source text kept with a reject, in bytes of
// UTF-8.
const MaxRawInReject = 4096

// clipRaw is the source text kept with a reject: raw with each byte that
// is not part of valid UTF-8 replaced by U+FFFD, then cut on a rune
// boundary to at most MaxRawInReject bytes.
func clipRaw(raw []byte) string {
	if len(raw) <= MaxRawInReject && utf8.Valid(raw) {
		return string(raw)
	}
	out := make([]byte, 0, MaxRawInReject)
	for len(raw) > 0 {
		r, n := utf8.DecodeRune(raw)
		if len(out)+utf8.RuneLen(r) > MaxRawInReject {
			break
		}
		out = utf8.AppendRune(out, r)
		raw = raw[n:]
	}
	return string(out)
}

// RejectOptions describe where a RejectWriter's records come from.
type RejectOptions struct {
	// Source and Chunk are written with each record WriteRaw builds.
	Source string
	Chunk  int
	// OnReject, if set, sees each record WriteRaw builds before it is
	// written.
	OnReject func(*RejectRecord)
}

// RejectWriter writes quarantined records as JSON lines to one object;
// nothing is written until the first reject.
type RejectWriter struct {
	opt  RejectOptions
	ctx  context.Context
	b    storage.Bucket
	key  string
	w    storage.Writer
	buf  *bufio.Writer
	cw   *countWriter
	n    int64
	line []byte
}

// NewRejectWriter writes rejects to key in b.
func NewRejectWriter(ctx context.Context, b storage.Bucket, key string, optFns ...func(*RejectOptions)) *RejectWriter {
	w := &RejectWriter{ctx: ctx, b: b, key: key}
	for _, fn := range optFns {
		fn(&w.opt)
	}
	return w
}

// WriteRaw appends the reject of a decoded record and its outcome.
func (w *RejectWriter) WriteRaw(rec *codec.RawRecord, out *plan.Outcome) error {
	rr := RejectRecord{Source: w.opt.Source, Chunk: w.opt.Chunk, Line: rec.Line, Record: rec.Index, Offset: rec.Offset,
		Field: out.Field, Rule: out.Rule, Reason: out.Reason, Raw: clipRaw(bytes.TrimRight(rec.Raw, "\r\n"))}
	if w.opt.OnReject != nil {
		w.opt.OnReject(&rr)
	}
	return w.write(&rr)
}

// Write appends a reject built by the caller.
func (w *RejectWriter) Write(rr *RejectRecord) error {
	if err := w.write(rr); err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	return nil
}

func (w *RejectWriter) write(rr *RejectRecord) error {
	if w.w == nil {
		ow, err := w.b.NewWriter(w.ctx, w.key)
		if err != nil {
			return fmt.Errorf("create %s: %w", w.key, err)
		}
		// One write per reject would be one system call per reject on a
		// local file; the records are buffered and flushed on Close.
		w.buf = bufio.NewWriterSize(ow, 64<<10)
		w.w, w.cw = ow, &countWriter{w: w.buf}
	}
	if len(rr.Raw) > MaxRawInReject || !utf8.ValidString(rr.Raw) {
		rr.Raw = clipRaw([]byte(rr.Raw))
	}
	w.line = appendReject(w.line[:0], rr)
	w.n++
	_, err := w.cw.Write(w.line)
	return err
}

// Close commits the object; it returns nil when there was no reject.
func (w *RejectWriter) Close() (*Part, error) {
	if w.w == nil {
		return nil, nil
	}
	if err := w.buf.Flush(); err != nil {
		_ = w.w.Abort()
		return nil, fmt.Errorf("write %s: %w", w.key, err)
	}
	if err := w.w.Close(); err != nil {
		return nil, fmt.Errorf("commit %s: %w", w.key, err)
	}
	return &Part{Key: w.key, Records: w.n, Bytes: w.cw.n}, nil
}

// Abort discards the object.
func (w *RejectWriter) Abort() {
	if w.w != nil {
		_ = w.w.Abort()
	}
}

// RebaseReject appends a staged reject line with its line and record
// numbers made absolute. Staged lines come from appendReject, so the first
// `,"line":` and `,"record":` are those fields: a quote inside a JSON
// string is always escaped, so the pattern cannot occur in one.
func RebaseReject(dst, src []byte, lineBase, recBase int64) ([]byte, error) {
	for _, f := range []struct {
		name string
		base int64
	}{{`,"line":`, lineBase}, {`,"record":`, recBase}} {
		i := bytes.Index(src, []byte(f.name))
		if i < 0 {
			return nil, fmt.Errorf("reject line without %s", f.name)
		}
		j := i + len(f.name)
		k := j
		for k < len(src) && src[k] >= '0' && src[k] <= '9' {
			k++
		}
		n, err := strconv.ParseInt(string(src[j:k]), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("reject line: bad %s", f.name)
		}
		if n > 0 || f.name == `,"record":` {
			n += f.base
		}
		dst = append(dst, src[:j]...)
		dst = strconv.AppendInt(dst, n, 10)
		src = src[k:]
	}
	dst = append(dst, src...)
	return append(dst, '\n'), nil
}

func appendReject(b []byte, rr *RejectRecord) []byte {
	b = append(b, `{"source":`...)
	b = codec.AppendJSONString(b, []byte(rr.Source))
	if rr.Shard != "" {
		b = append(b, `,"shard":`...)
		b = codec.AppendJSONString(b, []byte(rr.Shard))
		b = append(b, `,"sequence_number":`...)
		b = codec.AppendJSONString(b, []byte(rr.Seq))
		if rr.SubSeq > 0 {
			b = fmt.Appendf(b, `,"sub_sequence_number":%d`, rr.SubSeq)
		}
	}
	b = fmt.Appendf(b, `,"chunk":%d,"line":%d,"record":%d,"offset":%d`, rr.Chunk, rr.Line, rr.Record, rr.Offset)
	if rr.Field != "" {
		b = append(b, `,"field":`...)
		b = codec.AppendJSONString(b, []byte(rr.Field))
	}
	b = append(b, `,"rule":`...)
	b = codec.AppendJSONString(b, []byte(rr.Rule))
	b = append(b, `,"reason":`...)
	b = codec.AppendJSONString(b, []byte(rr.Reason))
	b = append(b, `,"raw":`...)
	b = codec.AppendJSONString(b, []byte(rr.Raw))
	return append(b, "}\n"...)
}

// ReadRejects reads a published rejects file (used by tests and tools).
func ReadRejects(ctx context.Context, b storage.Bucket, key string) ([]RejectRecord, error) {
	data, err := storage.ReadAll(ctx, b, key)
	if err != nil {
		return nil, err
	}
	var out []RejectRecord
	for _, l := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		var rr RejectRecord
		if err := json.Unmarshal(l, &rr); err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		out = append(out, rr)
	}
	return out, nil
}
