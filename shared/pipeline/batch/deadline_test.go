package batch_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/adapter/storage/memblob"
	"github.com/sluice-etl/sluice/shared/core/deadline"
	"github.com/sluice-etl/sluice/shared/core/layout"
	"github.com/sluice-etl/sluice/shared/pipeline/batch"
)

// slowBucket takes 20 ms of its clock to write each object and counts the
// parts written.
type slowBucket struct {
	*memblob.Bucket
	mu     sync.Mutex
	writes int
	now    time.Time
}

func (s *slowBucket) NewWriter(ctx context.Context, key string) (storage.Writer, error) {
	s.mu.Lock()
	s.now = s.now.Add(20 * time.Millisecond)
	if layout.IsPart(key) {
		s.writes++
	}
	s.mu.Unlock()
	return s.Bucket.NewWriter(ctx, key)
}

func (s *slowBucket) clock() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

const daysSpec = `fields:
  - {name: id, type: int}
  - {name: day, type: date}
sink: {format: jsonl, partition_by: [{key: day, field: day}]}
`

// A load whose deadline comes near stops between parts, with nothing
// half-written and no _SUCCESS; the retry publishes only the parts the
// first attempt did not, and the output is whole.
func TestCommitStopsBeforeTheDeadlineAndResumes(t *testing.T) {
	p := mustPlan(t, daysSpec)
	in, staging := memblob.New(), memblob.New()
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	out := &slowBucket{Bucket: memblob.New(), now: t0}
	var b strings.Builder
	b.WriteString("id,day\n")
	for i := range 3000 {
		fmt.Fprintf(&b, "%d,2026-10-%02d\n", i, 1+i%30)
	}
	put(t, in, "days.csv", []byte(b.String()))
	job, err := batch.Extract(ctx, in, "days.csv", p, batch.ExtractOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var results []*batch.ChunkResult
	for _, c := range job.Chunks {
		r, err := batch.Transform(ctx, in, staging, p, job, c, batch.TransformOptions{StagingPrefix: "runs"})
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, r)
	}
	opt := batch.LoadOptions{OutPrefix: "t", StagingPrefix: "runs"}
	// 30 parts at 20 ms each need 600 ms; 400 ms are left, 100 ms kept.
	short := deadline.WithClock(ctx, t0.Add(400*time.Millisecond), out.clock)
	_, err = batch.NewLoader(staging, out, func(o *batch.LoadOptions) { *o = opt }).Commit(short, p, job, results)
	var de *deadline.StoppedError
	if !errors.As(err, &de) || !errors.Is(err, deadline.ErrNear) || de.Done == 0 || de.Done >= 30 || de.Of != 30 {
		t.Fatalf("first attempt: %v", err)
	}
	first := out.writes
	if objs, _ := out.List(ctx, "t/_SUCCESS"); len(objs) != 0 || first != de.Done {
		t.Fatalf("after the first attempt: %d writes for %d parts done, _SUCCESS %v", first, de.Done, objs)
	}
	m, err := batch.NewLoader(staging, out, func(o *batch.LoadOptions) { *o = opt }).Commit(ctx, p, job, results)
	if err != nil {
		t.Fatal(err)
	}
	if again := out.writes - first; again != 30-de.Done {
		t.Fatalf("the retry wrote %d parts, want the %d left", again, 30-de.Done)
	}
	if err := batch.NewLoader(staging, out, func(o *batch.LoadOptions) { *o = opt }).Finalize(ctx, m); err != nil {
		t.Fatal(err)
	}
	if rows := outputRows(t, out, m); len(rows) != 3000 || len(m.Parts) != 30 {
		t.Fatalf("%d rows in %d parts", len(rows), len(m.Parts))
	}
}

// A transform whose deadline comes near stops with nothing staged.
func TestTransformStopsBeforeTheDeadline(t *testing.T) {
	p := mustPlan(t, daysSpec)
	in, staging := memblob.New(), memblob.New()
	var b strings.Builder
	b.WriteString("id,day\n")
	for i := range 400_000 {
		fmt.Fprintf(&b, "%d,2026-10-%02d\n", i, 1+i%30)
	}
	put(t, in, "days.csv", []byte(b.String()))
	job, err := batch.Extract(ctx, in, "days.csv", p, batch.ExtractOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Each look at the clock takes 10 ms: 120 ms are left, 100 ms kept.
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := t0
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(10 * time.Millisecond)
		return now
	}
	short := deadline.WithClock(ctx, t0.Add(120*time.Millisecond), clock)
	_, err = batch.Transform(short, in, staging, p, job, job.Chunks[0], batch.TransformOptions{StagingPrefix: "runs"})
	if !errors.Is(err, deadline.ErrNear) {
		t.Fatalf("err = %v", err)
	}
	if objs, _ := staging.List(ctx, ""); len(objs) != 0 {
		t.Fatalf("staged after stopping: %v", objs)
	}
}
