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
	for _, tc := range []struct {
		left time.Duration
		want time.Duration
	}{{10 * time.Second, 2 * time.Second}, {time.Minute, 5 * time.Second}, {200 * time.Millisecond, 100 * time.Millisecond}} {
		ctx, cancel := context.WithTimeout(context.Background(), tc.left)
		r := Reserve(ctx)
		if d := tc.want - r; d < 0 || d > 50*time.Millisecond {
			t.Errorf("%s left: reserve %s, want about %s", tc.left, r, tc.want)
		}
		if Near(ctx, r) {
			t.Errorf("%s left: near at once", tc.left)
		}
		cancel()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if !Near(ctx, 100*time.Millisecond) {
		t.Fatal("50 ms left is near a 100 ms reserve")
	}
	err := error(&StoppedError{What: "publish", Done: 3, Of: 10})
	if !errors.Is(err, ErrNear) || err.Error() != "publish: 3 of 10 done: stopped before the deadline; retry to resume" {
		t.Fatalf("error = %v", err)
	}
}
