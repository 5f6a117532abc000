package window

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/sluice-etl/sluice/shared/core/accounting"
)

// Snapshot is a shard's stored state: the windower's State, the sequence
// number of the last record applied (the checkpoint), the outputs staged
// by the batch that saved it and still to be published, the shard's
// running record counts, and a version for optimistic concurrency. (The
// shard's count of late records is State.LateCount.)
type Snapshot struct {
	State   State             `json:"state"`
	LastSeq string            `json:"last_seq"`
	Version int64             `json:"version"`
	Pending []Move            `json:"pending,omitempty"`
	Counts  accounting.Counts `json:"counts"`
	// Held are batches whose data files are published into a table's
	// folder and wait for one commit that makes them part of the table
	// (an iceberg sink). HeldSince is when the oldest was held.
	Held      []HeldBatch `json:"held,omitempty"`
	HeldSince time.Time   `json:"held_since,omitzero"`
}

// HeldBatch is one batch held back from a table commit: the sequence
// numbers it covers, its data files and its counts.
type HeldBatch struct {
	First  string            `json:"first"`
	Last   string            `json:"last"`
	Files  []HeldFile        `json:"files,omitempty"`
	Counts accounting.Counts `json:"counts"`
}

// HeldFile is a data file of a held batch.
type HeldFile struct {
	Key       string `json:"key"`
	Partition string `json:"partition,omitempty"`
	Records   int64  `json:"records"`
	Bytes     int64  `json:"bytes"`
}

// HeldFiles counts the data files of held batches.
func HeldFiles(held []HeldBatch) int {
	n := 0
	for _, b := range held {
		n += len(b.Files)
	}
	return n
}

// Move publishes a staged object: From (in staging) is copied to To.
// Moves are saved with the checkpoint, so a crash between the save and
// the copy is finished by the next invocation.
type Move struct {
	From string `json:"from"`
	To   string `json:"to"`
	// Table says To is in the table's bucket (an iceberg sink's data
	// file), not the output bucket.
	Table bool `json:"table,omitempty"`
}

// ErrConflict is returned by Store.Save when another writer saved first.
var ErrConflict = errors.New("window state changed since it was loaded")

// Store keeps snapshots and closed-window results.
type Store interface {
	// Load returns the shard's snapshot; an unknown shard gives a zero
	// Snapshot (Version 0).
	Load(ctx context.Context, shard string) (Snapshot, error)
	// Save stores next and results in one atomic step, only if the stored
	// version is still prev; otherwise it returns an error wrapping
	// ErrConflict and stores nothing. Results have deterministic keys, so
	// writing one twice leaves one.
	Save(ctx context.Context, shard string, prev int64, next Snapshot, results []Cell) error
}

// SeqRecord is a Record with its stream sequence number.
type SeqRecord struct {
	Record
	Seq string
}

// SeqLess orders stream sequence numbers: numeric strings of any length.
func SeqLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// After reports whether seq is past the checkpoint last ("" is before
// everything).
func After(last, seq string) bool { return last == "" || SeqLess(last, seq) }

// Attempt is what one try at a batch produced: the new checkpoint (the
// loaded one, or "", when nothing new was applied: nothing is saved), the
// outputs it staged, and the counts to add.
type Attempt struct {
	LastSeq string
	Pending []Move
	Counts  accounting.Counts
	Late    int64
	// Held and HeldSince replace the snapshot's.
	Held      []HeldBatch
	HeldSince time.Time
}

// Step applies the new part of a batch to the loaded snapshot: it folds
// records into w (nil without windows) and stages outputs.
type Step func(ctx context.Context, snap Snapshot, w *Windower) (Attempt, error)

// Committed reports what Transact saved.
type Committed struct {
	Snapshot Snapshot
	Attempt  Attempt
	Closed   []Cell
	// Saved is false when the batch held nothing new.
	Saved    bool
	Attempts int
}

// MaxAttempts bounds the reload-and-retry loop on conflicts.
const MaxAttempts = 10

// Transact runs step on the shard's snapshot and saves the result in one
// conditional step: the checkpoint, the state, the staged outputs and the
// windows closed at now. When another writer saved first it calls abandon
// (the staged outputs will never be published) and tries again on the
// fresh snapshot. On any other save error the outputs are left alone: the
// save may have taken effect.
func Transact(ctx context.Context, st Store, spec *Spec, shard string, now time.Time, step Step, abandon func(Attempt)) (Committed, error) {
	for attempt := 1; ; attempt++ {
		snap, err := st.Load(ctx, shard)
		if err != nil {
			return Committed{}, fmt.Errorf("window: load %s: %w", shard, err)
		}
		var w *Windower
		if spec != nil {
			if w, err = New(*spec); err != nil {
				return Committed{}, err
			}
			if snap.Version > 0 {
				w.State = snap.State
				if w.State.Open == nil {
					w.State.Open = map[string]*Cell{}
				}
				if w.State.Seen == nil {
					w.State.Seen = map[string]int64{}
				}
			}
		}
		a, err := step(ctx, snap, w)
		if err != nil {
			return Committed{}, err
		}
		res := Committed{Snapshot: snap, Attempt: a, Attempts: attempt}
		if a.LastSeq == "" || a.LastSeq == snap.LastSeq {
			return res, nil
		}
		next := Snapshot{LastSeq: a.LastSeq, Version: snap.Version + 1, Pending: a.Pending, Counts: snap.Counts, Held: a.Held, HeldSince: a.HeldSince}
		next.Counts.Merge(a.Counts)
		if w != nil {
			res.Closed = w.Close(now)
			for i := range res.Closed {
				res.Closed[i].Shard = shard
			}
			next.State = w.State
		}
		err = st.Save(ctx, shard, snap.Version, next, res.Closed)
		if errors.Is(err, ErrConflict) {
			if abandon != nil {
				abandon(a)
			}
			if attempt < MaxAttempts && ctx.Err() == nil {
				continue
			}
		}
		if err != nil {
			return Committed{}, fmt.Errorf("window: save %s (attempt %d): %w", shard, attempt, err)
		}
		res.Snapshot, res.Saved = next, true
		return res, nil
	}
}

// Release drops the held batches up to and including sequence number
// last, once a table commit holds them, in one conditional save that
// keeps everything else of the snapshot. A concurrent save makes it
// reload and try again; batches it no longer finds were released already.
func Release(ctx context.Context, st Store, shard, last string) (Snapshot, error) {
	for attempt := 1; ; attempt++ {
		snap, err := st.Load(ctx, shard)
		if err != nil {
			return Snapshot{}, fmt.Errorf("window: load %s: %w", shard, err)
		}
		keep := snap.Held
		for len(keep) > 0 && !After(last, keep[0].Last) {
			keep = keep[1:]
		}
		if len(keep) == len(snap.Held) {
			return snap, nil
		}
		next := snap
		next.Version, next.Held, next.HeldSince = snap.Version+1, keep, time.Time{}
		if len(keep) > 0 {
			next.HeldSince = snap.HeldSince
		}
		err = st.Save(ctx, shard, snap.Version, next, nil)
		if errors.Is(err, ErrConflict) && attempt < MaxAttempts && ctx.Err() == nil {
			continue
		}
		if err != nil {
			return Snapshot{}, fmt.Errorf("window: release %s (attempt %d): %w", shard, attempt, err)
		}
		return next, nil
	}
}

// Applied reports what Apply did.
type Applied struct {
	New, Skipped, Late int
	Closed             []Cell
	Attempts           int
}

// Apply folds a batch into the shard's windows exactly once: records at or
// below the stored checkpoint are skipped (a replay changes nothing), and
// the new state, the checkpoint and the closed windows are saved in one
// conditional step. A conflicting writer makes it reload and try again.
// Event time alone closes windows here.
func Apply(ctx context.Context, st Store, spec Spec, shard string, batch []SeqRecord) (Applied, error) {
	var res Applied
	c, err := Transact(ctx, st, &spec, shard, zeroTime, func(_ context.Context, snap Snapshot, w *Windower) (Attempt, error) {
		res = Applied{}
		a := Attempt{LastSeq: snap.LastSeq}
		for _, r := range batch {
			if !After(a.LastSeq, r.Seq) {
				res.Skipped++
				continue
			}
			if w.Add(r.Record) {
				res.Late++
				a.Late++
			}
			res.New++
			a.LastSeq = r.Seq
		}
		return a, nil
	}, nil)
	if err != nil {
		return Applied{}, err
	}
	res.Closed, res.Attempts = c.Closed, c.Attempts
	return res, nil
}

// ResultKey names a closed window's result deterministically.
func ResultKey(c Cell) string {
	k := strconv.FormatInt(c.Window.Start, 10) + "/" + strconv.FormatInt(c.Window.End, 10) + "/" + c.Key
	if c.Shard != "" {
		k += "#" + c.Shard
	}
	return k
}
