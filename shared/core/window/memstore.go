package window

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
)

// MemStore is an in-memory Store. Snapshots are kept as JSON, as a real
// store keeps them, so nothing is shared with the caller.
type MemStore struct {
	mu      sync.Mutex
	snaps   map[string][]byte
	Results map[string]Cell
	// BeforeSave, if set, runs inside Save before the version check; a
	// test uses it to force a conflict or a failure.
	BeforeSave func(shard string) error
}

var _ Store = (*MemStore)(nil)

// Load implements Store.
func (m *MemStore) Load(_ context.Context, shard string) (Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var s Snapshot
	if b, ok := m.snaps[shard]; ok {
		if err := json.Unmarshal(b, &s); err != nil {
			return s, err
		}
	}
	return s, nil
}

// Save implements Store.
func (m *MemStore) Save(_ context.Context, shard string, prev int64, next Snapshot, results []Cell) error {
	if m.BeforeSave != nil {
		if err := m.BeforeSave(shard); err != nil {
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var cur Snapshot
	if b, ok := m.snaps[shard]; ok {
		json.Unmarshal(b, &cur)
	}
	if cur.Version != prev {
		return fmt.Errorf("shard %s at version %d, not %d: %w", shard, cur.Version, prev, ErrConflict)
	}
	b, err := json.Marshal(next)
	if err != nil {
		return err
	}
	if m.snaps == nil {
		m.snaps = map[string][]byte{}
	}
	if m.Results == nil {
		m.Results = map[string]Cell{}
	}
	m.snaps[shard] = b
	for _, c := range results {
		m.Results[ResultKey(c)] = c
	}
	return nil
}

// PutResults writes closed windows outside a save, as Lambda's own
// windows do.
func (m *MemStore) PutResults(_ context.Context, cells []Cell) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Results == nil {
		m.Results = map[string]Cell{}
	}
	for _, c := range cells {
		m.Results[ResultKey(c)] = c
	}
	return nil
}
