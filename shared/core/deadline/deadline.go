// Package deadline helps a function stop taking work while it still has
// time to finish what it took: a Lambda invocation's context carries its
// deadline, and work past it is killed half done.
package deadline

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Reserve is how much of an invocation's time to keep for finishing: a
// fifth of what is left now, between 100 ms and 5 s; 0 without a
// deadline.
func Reserve(ctx context.Context) time.Duration {
	left, ok := Left(ctx)
	if !ok {
		return 0
	}
	return min(max(left/5, 100*time.Millisecond), 5*time.Second)
}

// Near reports whether less than reserve is left before ctx's deadline.
func Near(ctx context.Context, reserve time.Duration) bool {
	left, ok := Left(ctx)
	return ok && reserve > 0 && left < reserve
}

// Left is the time left before ctx's deadline, by ctx's clock; ok is
// false without a deadline.
func Left(ctx context.Context) (left time.Duration, ok bool) {
	dl, ok := ctx.Deadline()
	if !ok {
		return 0, false
	}
	now, isClocked := ctx.Value(clockKey{}).(func() time.Time)
	if !isClocked {
		now = time.Now
	}
	return dl.Sub(now()), true
}

type clockKey struct{}

// clocked is a context whose deadline is read on its own clock.
type clocked struct {
	context.Context
	deadline time.Time
	now      func() time.Time
}

func (c *clocked) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *clocked) Value(key any) any {
	if key == (clockKey{}) {
		return c.now
	}
	return c.Context.Value(key)
}

// WithClock returns a context whose deadline is dl on the clock now: Left,
// Reserve and Near read it, and it never cancels the context by itself.
// Tests use it to drive deadlines without the wall clock.
func WithClock(ctx context.Context, dl time.Time, now func() time.Time) context.Context {
	return &clocked{Context: ctx, deadline: dl, now: now}
}

// ErrNear is wrapped by the errors of work stopped for the deadline:
// nothing half-written was left, and a retry resumes.
var ErrNear = errors.New("stopped before the deadline; retry to resume")

// StoppedError is work stopped for the deadline, with what it had done.
// Lambda reports it with the error type "StoppedError", which the state
// machine retries more often than other failures: each attempt resumes
// where the last one stopped.
type StoppedError struct {
	What string
	Done int
	Of   int
}

func (e *StoppedError) Error() string {
	return fmt.Sprintf("%s: %d of %d done: %v", e.What, e.Done, e.Of, ErrNear)
}

// Unwrap makes errors.Is(err, ErrNear) true.
func (e *StoppedError) Unwrap() error { return ErrNear }
