// Package windowtest is the conformance suite every window.Store runs,
// including the exactly-once property under replays and failures.
package windowtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluice-etl/sluice/shared/core/window"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// Spec is the windows the suite uses.
var Spec = window.Spec{Kind: window.Tumbling, Size: time.Minute, Lateness: 20 * time.Second, Fields: []string{"amount"}}

// Results reads back closed-window results of a shard for comparison.
type Results func(t *testing.T) map[string]window.Cell

// Run runs the suite. newStore returns an empty store and a reader of
// its results.
func Run(t *testing.T, newStore func(t *testing.T) (window.Store, Results)) {
	ctx := context.Background()
	t.Run("LoadEmpty", func(t *testing.T) {
		st, _ := newStore(t)
		s, err := st.Load(ctx, "nothing")
		if err != nil || s.Version != 0 || s.LastSeq != "" {
			t.Fatalf("empty load = %+v, %v", s, err)
		}
	})
	t.Run("SaveLoadAndConflict", func(t *testing.T) {
		st, results := newStore(t)
		w, _ := window.New(Spec)
		w.Add(window.Record{Time: t0, Key: "a", Values: map[string]float64{"amount": 2.5}})
		cell := window.Cell{Window: window.Bounds{Start: 1, End: 2}, Key: "k", Count: 3, Fields: map[string]window.Agg{"amount": {Count: 3, Sum: 6, Min: 1, Max: 3}}}
		if err := st.Save(ctx, "s", 0, window.Snapshot{State: w.State, LastSeq: "10", Version: 1}, []window.Cell{cell}); err != nil {
			t.Fatal(err)
		}
		got, err := st.Load(ctx, "s")
		if err != nil || got.Version != 1 || got.LastSeq != "10" || len(got.State.Open) != 1 {
			t.Fatalf("load = %+v, %v", got, err)
		}
		// A stale writer is refused and changes nothing.
		if err := st.Save(ctx, "s", 0, window.Snapshot{LastSeq: "99", Version: 1}, nil); !errors.Is(err, window.ErrConflict) {
			t.Fatalf("stale save: %v", err)
		}
		if again, _ := st.Load(ctx, "s"); again.LastSeq != "10" {
			t.Fatalf("a refused save changed the state: %+v", again)
		}
		r := results(t)
		if c, ok := r[window.ResultKey(cell)]; !ok || c.Count != 3 || c.Fields["amount"].Sum != 6 {
			t.Fatalf("results = %v", r)
		}
	})
	t.Run("HeldBatchesAndRelease", func(t *testing.T) {
		st, _ := newStore(t)
		held := []window.HeldBatch{
			{First: "1", Last: "3", Files: []window.HeldFile{{Key: "t/data/a.parquet", Partition: "h=1", Records: 2, Bytes: 900}}},
			{First: "4", Last: "9", Files: []window.HeldFile{{Key: "t/data/b.parquet", Records: 5, Bytes: 1200}}},
		}
		since := t0.Add(time.Minute)
		if err := st.Save(ctx, "s", 0, window.Snapshot{LastSeq: "9", Version: 1, Held: held, HeldSince: since}, nil); err != nil {
			t.Fatal(err)
		}
		got, err := st.Load(ctx, "s")
		if err != nil || !reflect.DeepEqual(got.Held, held) || !got.HeldSince.Equal(since) {
			t.Fatalf("held after a round trip: %+v since %v, %v", got.Held, got.HeldSince, err)
		}
		// Releasing through 3 keeps the second batch and the checkpoint.
		next, err := window.Release(ctx, st, "s", "3")
		if err != nil || len(next.Held) != 1 || next.Held[0].First != "4" || next.LastSeq != "9" || next.Version != 2 {
			t.Fatalf("release: %+v, %v", next, err)
		}
		if again, _ := window.Release(ctx, st, "s", "3"); again.Version != 2 {
			t.Fatalf("a repeated release saved again: version %d", again.Version)
		}
		if last, _ := window.Release(ctx, st, "s", "9"); len(last.Held) != 0 || !last.HeldSince.IsZero() {
			t.Fatalf("release of all: %+v", last)
		}
	})
	t.Run("ExactlyOnceUnderReplays", func(t *testing.T) {
		for seed := uint64(1); seed <= 5; seed++ {
			clean, cleanResults := newStore(t)
			recs := Stream(rand.New(rand.NewPCG(seed, 7)), 300)
			if _, err := window.Apply(ctx, clean, Spec, "shard-0", recs); err != nil {
				t.Fatal(err)
			}
			st, results := newStore(t)
			f := &Faulty{Store: st, R: rand.New(rand.NewPCG(seed, 9))}
			Replay(t, f, recs, f.R)
			a, _ := clean.Load(ctx, "shard-0")
			b, _ := st.Load(ctx, "shard-0")
			if x, y := Summary(cleanResults(t), a), Summary(results(t), b); x != y || len(cleanResults(t)) < 5 {
				t.Fatalf("seed %d: replays differ from one clean pass:\n%s\n%s", seed, y, x)
			}
		}
	})
}

// Faulty wraps a Store: some saves fail before writing (throttled), some
// after (the acknowledgement is lost).
type Faulty struct {
	window.Store
	R       *rand.Rand
	AckLost bool
}

// Save implements window.Store.
func (f *Faulty) Save(ctx context.Context, shard string, prev int64, next window.Snapshot, results []window.Cell) error {
	switch f.R.IntN(6) {
	case 0:
		return errors.New("throttled")
	case 1:
		if err := f.Store.Save(ctx, shard, prev, next, results); err != nil {
			return err
		}
		return errors.New("acknowledgement lost")
	}
	return f.Store.Save(ctx, shard, prev, next, results)
}

// Replay delivers recs in random batches, redelivering from before the
// last checkpoint now and then and after every failure, as Kinesis does.
func Replay(t *testing.T, st window.Store, recs []window.SeqRecord, r *rand.Rand) {
	t.Helper()
	pos := 0
	for deliveries := 0; pos < len(recs); deliveries++ {
		if deliveries > 10_000 {
			t.Fatal("replay did not finish")
		}
		end := min(pos+1+r.IntN(60), len(recs))
		from := pos
		if r.IntN(4) == 0 {
			from = max(0, pos-r.IntN(80))
		}
		if _, err := window.Apply(context.Background(), st, Spec, "shard-0", recs[from:end]); err == nil {
			pos = end
		}
	}
}

// Stream makes n records with increasing sequence numbers, a few keys,
// and event times that mostly advance but sometimes arrive late.
func Stream(r *rand.Rand, n int) []window.SeqRecord {
	out := make([]window.SeqRecord, n)
	clock := 0
	for i := range out {
		clock += r.IntN(7)
		ts := clock
		if r.IntN(10) == 0 {
			ts -= r.IntN(90)
		}
		out[i] = window.SeqRecord{Seq: fmt.Sprintf("%d", 49_000_000+i*3), Record: window.Record{
			Time: t0.Add(time.Duration(ts) * time.Second), Key: fmt.Sprintf("k%d", r.IntN(4)),
			Values: map[string]float64{"amount": float64(r.IntN(1000)) / 4}}}
	}
	return out
}

// Summary renders results and the open state for comparison.
func Summary(results map[string]window.Cell, snap window.Snapshot) string {
	var keys []string
	for k := range results {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		c := results[k]
		a := c.Fields["amount"]
		fmt.Fprintf(&b, "%s n=%d s=%g mn=%g mx=%g|", k, c.Count, a.Sum, a.Min, a.Max)
	}
	var open []string
	for id, c := range snap.State.Open {
		open = append(open, fmt.Sprintf("%s:%d:%g", id, c.Count, c.Fields["amount"].Sum))
	}
	sort.Strings(open)
	fmt.Fprintf(&b, "open %v late %d last %s", open, snap.State.LateCount, snap.LastSeq)
	return b.String()
}
