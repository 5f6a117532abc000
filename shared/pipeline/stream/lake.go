package stream

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/window"
	"github.com/sluice-etl/sluice/shared/pipeline/batch"
)

// The iceberg sink on the stream path. A batch's data files are
// published into the table's folder with the checkpoint, as the other
// sinks' parts are, and held in the shard's snapshot: nothing reads them
// until a commit names them. A shard's held batches are committed in one
// snapshot once the oldest has waited stream.commit_interval or
// stream.commit_files files are held, so the commit rate per table is at
// most shards / commit_interval, whatever the record rate. After the
// commit the batches are released from the snapshot; a crash in between
// leaves them held, and the next commit finds them in the table (its
// summary names the shard's last sequence number) and adds nothing twice.

// ErrHeldForTable stops a shard whose snapshot holds data files for an
// iceberg table when the spec no longer has an iceberg sink: going on
// would drop them.
var ErrHeldForTable = errors.New("the shard holds data files for an iceberg table, and the spec no longer has an iceberg sink")

// checkHeld refuses to go on past held files, or staged data files, that
// only an iceberg sink would commit.
func (p *Pipeline) checkHeld(snap window.Snapshot) error {
	if p.kind == codec.SinkIceberg {
		return nil
	}
	if n := window.HeldFiles(snap.Held); n > 0 || len(snap.Held) > 0 {
		return fmt.Errorf("%w: %d files of %d batches up to sequence number %s; run the iceberg spec until they are committed", ErrHeldForTable, n, len(snap.Held), snap.Held[len(snap.Held)-1].Last)
	}
	return nil
}

// hold adds the batch just staged to the snapshot's held batches.
func (p *Pipeline) hold(a *window.Attempt, snap window.Snapshot, first string, b staged) {
	if p.kind != codec.SinkIceberg {
		return
	}
	a.Held = append(slices.Clone(snap.Held), window.HeldBatch{First: first, Last: a.LastSeq, Files: b.files, Counts: b.counts})
	a.HeldSince = snap.HeldSince
	if len(snap.Held) == 0 {
		a.HeldSince = p.cfg.Now()
	}
}

// due reports whether the shard's held batches are to be committed now.
func (p *Pipeline) due(snap window.Snapshot) bool {
	st := p.cfg.Plan.Spec.Stream
	if len(snap.Held) == 0 {
		return false
	}
	return window.HeldFiles(snap.Held) >= st.CommitFiles || p.cfg.Now().Sub(snap.HeldSince) >= time.Duration(st.CommitInterval)
}

// flush commits the shard's held batches when they are due, then
// releases them from the snapshot.
func (p *Pipeline) flush(ctx context.Context, shard string, snap window.Snapshot, res *Result) error {
	res.Held = window.HeldFiles(snap.Held)
	if p.kind != codec.SinkIceberg || !p.due(snap) {
		return nil
	}
	c := &Commit{Shard: shard, SpecHash: batch.SpecHash(p.cfg.Plan.Spec), Batches: snap.Held}
	n, err := p.cfg.Lake.CommitStream(ctx, c)
	if err != nil {
		return fmt.Errorf("stream %s: checkpointed, table commit deferred: %w", shard, err)
	}
	next, err := window.Release(ctx, p.cfg.Store, shard, snap.Held[len(snap.Held)-1].Last)
	if err != nil {
		return fmt.Errorf("stream %s: committed to the table, release deferred: %w", shard, err)
	}
	res.Committed, res.Held = n, window.HeldFiles(next.Held)
	return nil
}

// Flush commits a shard's held batches if they are due, as a batch on the
// shard would: for a shard that has gone quiet, whose held files would
// otherwise wait for its next batch. A scheduled invocation calls it.
func (p *Pipeline) Flush(ctx context.Context, shard string) (Result, error) {
	res := Result{Shard: shard}
	if p.kind != codec.SinkIceberg {
		return res, nil
	}
	snap, err := p.cfg.Store.Load(ctx, shard)
	if err != nil {
		return res, fmt.Errorf("stream %s: %w", shard, err)
	}
	res.Checkpoint = snap.LastSeq
	// The last batch's invocation may have stopped before publishing its
	// files: a commit needs them in place.
	if err := p.publish(ctx, snap.Pending); err != nil {
		return res, fmt.Errorf("stream %s: %w", shard, err)
	}
	return res, p.flush(ctx, shard, snap, &res)
}
