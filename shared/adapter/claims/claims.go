// Package claims makes a run happen once even when its trigger is
// delivered more than once: the first execution claims the run id, later
// ones see it in progress or done and stand down. A claim left by a run
// that died expires, so a retry is not blocked forever.
package claims

import (
	"context"
	"sync"
	"time"
)

// State is what Claim found.
type State string

// Claim outcomes.
const (
	Claimed    State = "claimed"     // this caller owns the run
	InProgress State = "in_progress" // another execution is running it
	Done       State = "done"        // it already completed
)

// Store keeps run claims.
type Store interface {
	// Claim takes runID for ttl unless a live claim or a completion exists.
	Claim(ctx context.Context, runID, owner string, ttl time.Duration) (State, error)
	// Complete marks runID done (kept for keep).
	Complete(ctx context.Context, runID string, keep time.Duration) error
	// Release drops the claim so the run can be retried.
	Release(ctx context.Context, runID string) error
	// Holder returns the owner of a live in-progress claim ("" if none).
	Holder(ctx context.Context, runID string) (string, error)
	// TakeOver gives a live in-progress claim held by from to to, for
	// ttl, and reports whether it did: for a holder known to be dead.
	TakeOver(ctx context.Context, runID, from, to string, ttl time.Duration) (bool, error)
	// Extend moves a live in-progress claim's expiry to ttl from now when
	// that is later. An expired, released or completed claim is left
	// alone: a run that lost its claim does not take it back.
	Extend(ctx context.Context, runID string, ttl time.Duration) error
}

// Mem is an in-memory Store with an injected clock.
type Mem struct {
	mu    sync.Mutex
	items map[string]memItem
	Now   func() time.Time
}

type memItem struct {
	state   State
	owner   string
	expires time.Time
}

var _ Store = (*Mem)(nil)

func (m *Mem) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// Claim implements Store.
func (m *Mem) Claim(_ context.Context, runID, owner string, ttl time.Duration) (State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.items == nil {
		m.items = map[string]memItem{}
	}
	if it, ok := m.items[runID]; ok && m.now().Before(it.expires) {
		if it.state == Done {
			return Done, nil
		}
		if it.owner == owner {
			return Claimed, nil // a retried extract of the same execution
		}
		return InProgress, nil
	}
	m.items[runID] = memItem{state: InProgress, owner: owner, expires: m.now().Add(ttl)}
	return Claimed, nil
}

// Complete implements Store.
func (m *Mem) Complete(_ context.Context, runID string, keep time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.items == nil {
		m.items = map[string]memItem{}
	}
	m.items[runID] = memItem{state: Done, expires: m.now().Add(keep)}
	return nil
}

// Release implements Store.
func (m *Mem) Release(_ context.Context, runID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.items, runID)
	return nil
}

// Extend implements Store.
func (m *Mem) Extend(_ context.Context, runID string, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.items[runID]
	if !ok || it.state != InProgress || !m.now().Before(it.expires) {
		return nil
	}
	if t := m.now().Add(ttl); t.After(it.expires) {
		it.expires = t
		m.items[runID] = it
	}
	return nil
}

// Holder implements Store.
func (m *Mem) Holder(_ context.Context, runID string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if it, ok := m.items[runID]; ok && it.state == InProgress && m.now().Before(it.expires) {
		return it.owner, nil
	}
	return "", nil
}

// TakeOver implements Store.
func (m *Mem) TakeOver(_ context.Context, runID, from, to string, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.items[runID]
	if !ok || it.state != InProgress || it.owner != from || !m.now().Before(it.expires) {
		return false, nil
	}
	m.items[runID] = memItem{state: InProgress, owner: to, expires: m.now().Add(ttl)}
	return true, nil
}
