package offline

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Ticks gives a schedule's ticks: every d, until stop. The stack's default
// is a time.Ticker; tests pass their own.
type Ticks func(d time.Duration) (tick <-chan time.Time, stop func())

func realTicks(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// startSchedules invokes each function with a Schedule event on its
// rate, as EventBridge does on AWS: extract's flush of held table files,
// the commit function's compaction.
func (s *Stack) startSchedules(ctx context.Context, ticks Ticks) error {
	scheds, err := s.Template.Schedules()
	if err != nil {
		return err
	}
	for _, sc := range scheds {
		f, ok := s.Lambda.Function(sc.Function)
		if !ok {
			return fmt.Errorf("%s: schedule of unknown function %s", sc.Source, sc.Function)
		}
		tick, stop := ticks(sc.Every)
		invoke := func(ctx context.Context, payload []byte) error {
			res, err := s.Lambda.Invoke(ctx, f, payload)
			if err == nil && res.FunctionError != "" {
				err = fmt.Errorf("%s: %s", res.FunctionError, res.Payload)
			}
			return err
		}
		s.background.Go(func() {
			defer stop()
			runSchedule(ctx, tick, invoke, []byte(sc.Input), s.log.With("schedule", sc.Source))
		})
	}
	return nil
}

// runSchedule invokes with payload on each tick until ctx ends. A failed
// invocation is logged; the next tick tries again, as EventBridge would.
func runSchedule(ctx context.Context, tick <-chan time.Time, invoke func(context.Context, []byte) error, payload []byte, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			if err := invoke(ctx, payload); err != nil && ctx.Err() == nil {
				log.Warn("scheduled invocation failed", "err", err)
			}
		}
	}
}
