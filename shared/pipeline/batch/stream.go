package batch

import (
	"context"
	"fmt"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/core/plan"
)

// RowWriter writes kept rows into part files under a prefix, partitioned
// and rolled over as the spec's sink says: the stream path's micro-batches.
type RowWriter struct {
	ps *partSet
	pt *partitioner
}

// NewRowWriter starts writing parts under prefix in b.
func NewRowWriter(ctx context.Context, b storage.Bucket, prefix string, p *plan.Plan) *RowWriter {
	return &RowWriter{ps: newPartSet(ctx, b, prefix, p.Spec, &p.Out), pt: newPartitioner(p.Spec, &p.Full)}
}

// Write writes one kept record's row.
func (w *RowWriter) Write(out *plan.Outcome) error {
	var part []byte
	if len(w.pt.idx) > 0 {
		part = w.pt.path(out.Full)
	}
	return w.ps.write(part, out.Row)
}

// Close commits every part and returns them in key order.
func (w *RowWriter) Close() ([]Part, error) { return w.ps.close() }

// Abort discards the parts still open.
func (w *RowWriter) Abort() { w.ps.abort() }

// RejectWriter writes quarantined records as JSON lines to one object.
type RejectWriter struct{ rw *rejectWriter }

// NewRejectWriter writes rejects to key in b; nothing is written until the
// first reject.
func NewRejectWriter(ctx context.Context, b storage.Bucket, key string) *RejectWriter {
	return &RejectWriter{rw: newRejectWriter(ctx, b, key, "", 0)}
}

// Write appends one reject.
func (w *RejectWriter) Write(rr *RejectRecord) error {
	if err := w.rw.writeRecord(rr); err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	return nil
}

// Close commits the object; it returns nil when there was no reject.
func (w *RejectWriter) Close() (*Part, error) { return w.rw.close() }

// Abort discards the object.
func (w *RejectWriter) Abort() { w.rw.abort() }
