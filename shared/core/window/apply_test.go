package window_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/sluice-etl/sluice/shared/adapter/windowstate/windowtest"
	"github.com/sluice-etl/sluice/shared/core/window"
)

// TestConcurrentWriterConflict forces the race of two invocations on one
// shard: the other one saves between this one's load and save. This one
// reloads, finds the records applied, and counts nothing twice.
func TestConcurrentWriterConflict(t *testing.T) {
	ctx := context.Background()
	recs := windowtest.Stream(rand.New(rand.NewPCG(3, 3)), 50)
	st := &window.MemStore{}
	st.BeforeSave = func(shard string) error {
		st.BeforeSave = nil // the other invocation, on the same store
		_, err := window.Apply(ctx, st, windowtest.Spec, shard, recs)
		return err
	}
	res, err := window.Apply(ctx, st, windowtest.Spec, "s", recs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Attempts != 2 || res.New != 0 || res.Skipped != 50 {
		t.Fatalf("after the conflict: %+v", res)
	}
	clean := &window.MemStore{}
	if _, err := window.Apply(ctx, clean, windowtest.Spec, "s", recs); err != nil {
		t.Fatal(err)
	}
	a, _ := st.Load(ctx, "s")
	b, _ := clean.Load(ctx, "s")
	if windowtest.Summary(st.Results, a) != windowtest.Summary(clean.Results, b) {
		t.Fatal("the conflict double-counted")
	}
}

// TestExactlyOnceManySeeds runs the replay property on the memory store
// over more seeds than the shared suite does.
func TestExactlyOnceManySeeds(t *testing.T) {
	ctx := context.Background()
	for seed := uint64(10); seed < 40; seed++ {
		recs := windowtest.Stream(rand.New(rand.NewPCG(seed, 1)), 400)
		clean := &window.MemStore{}
		if _, err := window.Apply(ctx, clean, windowtest.Spec, "shard-0", recs); err != nil {
			t.Fatal(err)
		}
		st := &window.MemStore{}
		f := &windowtest.Faulty{Store: st, R: rand.New(rand.NewPCG(seed, 2))}
		windowtest.Replay(t, f, recs, f.R)
		a, _ := clean.Load(ctx, "shard-0")
		b, _ := st.Load(ctx, "shard-0")
		if x, y := windowtest.Summary(clean.Results, a), windowtest.Summary(st.Results, b); x != y {
			t.Fatalf("seed %d:\n%s\n%s", seed, y, x)
		}
	}
}
