package window

import (
	"context"
	"errors"
	"fmt"
	"strconv"
)

// Snapshot is a shard's stored window state: the windower's State, the
// sequence number of the last record applied, and a version for
// optimistic concurrency.
type Snapshot struct {
	State   State  `json:"state"`
	LastSeq string `json:"last_seq"`
	Version int64  `json:"version"`
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
func Apply(ctx context.Context, st Store, spec Spec, shard string, batch []SeqRecord) (Applied, error) {
	for attempt := 1; ; attempt++ {
		snap, err := st.Load(ctx, shard)
		if err != nil {
			return Applied{}, fmt.Errorf("window: load %s: %w", shard, err)
		}
		w, err := New(spec)
		if err != nil {
			return Applied{}, err
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
		res := Applied{Attempts: attempt}
		last := snap.LastSeq
		for _, r := range batch {
			if last != "" && !SeqLess(last, r.Seq) {
				res.Skipped++
				continue
			}
			if w.Add(r.Record) {
				res.Late++
			}
			res.New++
			last = r.Seq
		}
		if res.New == 0 {
			return res, nil
		}
		res.Closed = w.Close(zeroTime)
		next := Snapshot{State: w.State, LastSeq: last, Version: snap.Version + 1}
		err = st.Save(ctx, shard, snap.Version, next, res.Closed)
		if errors.Is(err, ErrConflict) && attempt < 10 && ctx.Err() == nil {
			continue
		}
		if err != nil {
			return Applied{}, fmt.Errorf("window: save %s (attempt %d): %w", shard, attempt, err)
		}
		return res, nil
	}
}

// ResultKey names a closed window's result deterministically.
func ResultKey(c Cell) string {
	return strconv.FormatInt(c.Window.Start, 10) + "/" + strconv.FormatInt(c.Window.End, 10) + "/" + c.Key
}
