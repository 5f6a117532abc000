package offline

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"
)

// Each tick is one invocation with the schedule's input; a failed one
// does not stop the next; the end of the context stops the schedule.
func TestRunScheduleInvokesOnEachTick(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	tick := make(chan time.Time)
	got := make(chan string)
	invoke := func(_ context.Context, payload []byte) error {
		got <- string(payload)
		return errors.New("the first one fails")
	}
	done := make(chan struct{})
	go func() {
		runSchedule(ctx, tick, invoke, []byte(`{"op":"compact"}`), slog.New(slog.DiscardHandler))
		close(done)
	}()
	for range 3 {
		tick <- time.Time{}
		if p := <-got; p != `{"op":"compact"}` {
			t.Fatalf("invoked with %s", p)
		}
	}
	cancel()
	<-done
}
