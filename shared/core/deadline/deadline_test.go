package deadline

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestReserveAndNear(t *testing.T) {
	if r := Reserve(context.Background()); r != 0 || Near(context.Background(), time.Second) {
		t.Fatalf("no deadline: reserve %s", r)
	}
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	now := t0
	clock := func() time.Time { return now }
	for _, tc := range []struct {
		left time.Duration
		want time.Duration
	}{{10 * time.Second, 2 * time.Second}, {time.Minute, 5 * time.Second}, {200 * time.Millisecond, 100 * time.Millisecond}} {
		ctx := WithClock(context.Background(), t0.Add(tc.left), clock)
		if r := Reserve(ctx); r != tc.want {
			t.Errorf("%s left: reserve %s, want %s", tc.left, r, tc.want)
		}
		if Near(ctx, Reserve(ctx)) {
			t.Errorf("%s left: near at once", tc.left)
		}
	}
	ctx, cancel := context.WithCancel(WithClock(context.Background(), t0.Add(time.Second), clock))
	defer cancel()
	if Near(ctx, 100*time.Millisecond) {
		t.Fatal("1 s left is not near a 100 ms reserve")
	}
	now = t0.Add(950 * time.Millisecond) // 50 ms left, through a derived context
	if left, ok := Left(ctx); !ok || left != 50*time.Millisecond || !Near(ctx, 100*time.Millisecond) {
		t.Fatalf("50 ms left is near a 100 ms reserve: left %s", left)
	}
	if ctx.Err() != nil {
		t.Fatal("a clocked deadline cancelled the context")
	}
	err := error(&StoppedError{What: "publish", Done: 3, Of: 10})
	if !errors.Is(err, ErrNear) || err.Error() != "publish: 3 of 10 done: stopped before the deadline; retry to resume" {
		t.Fatalf("error = %v", err)
	}
}
