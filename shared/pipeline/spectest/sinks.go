package spectest

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/pipeline/batch"
	"github.com/sluice-etl/sluice/shared/pipeline/output"
	"github.com/sluice-etl/sluice/shared/pipeline/stream"
)

// The sinks a case writes to in place of the spec's tables: a case runs
// in memory, with no AWS. Each keeps what a case compares (the rows it
// was given) and nothing of a real table's commit history, which is not
// what a spec's tests check.

// memTable is a dynamodb sink's table: rows upserted by the sink's key,
// in the order their keys were first written.
type memTable struct {
	key   []string
	mu    sync.Mutex
	index map[string]int
	rows  []map[string]any
}

var _ output.TableWriter = (*memTable)(nil)

func newMemTable(key []string) *memTable {
	return &memTable{key: key, index: map[string]int{}}
}

// Upsert replaces the row of each row's key, or adds it.
func (t *memTable) Upsert(_ context.Context, rows []map[string]any) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, r := range rows {
		k := t.keyOf(r)
		if i, ok := t.index[k]; ok {
			t.rows[i] = r
			continue
		}
		t.index[k] = len(t.rows)
		t.rows = append(t.rows, r)
	}
	return nil
}

func (t *memTable) keyOf(r map[string]any) string {
	vals := make([]any, len(t.key))
	for i, k := range t.key {
		vals[i] = r[k]
	}
	b, _ := json.Marshal(vals)
	return string(b)
}

// memLake is an iceberg sink's table: its data files go to a bucket
// under a prefix, and a commit takes them as they are.
type memLake struct {
	b      storage.Bucket
	prefix string
	mu     sync.Mutex
	runs   map[string][]output.Part
}

var (
	_ batch.Lake  = (*memLake)(nil)
	_ stream.Lake = (*memLake)(nil)
)

func newMemLake(b storage.Bucket, prefix string) *memLake {
	return &memLake{b: b, prefix: prefix, runs: map[string][]output.Part{}}
}

// Prepare has nothing to create.
func (l *memLake) Prepare(context.Context) error { return nil }

// Files is where the data files go.
func (l *memLake) Files() (storage.Bucket, string) { return l.b, l.prefix }

// Lookup returns the files of a committed run.
func (l *memLake) Lookup(_ context.Context, runID string) ([]output.Part, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	parts, ok := l.runs[runID]
	return parts, ok, nil
}

// Commit takes the run's files.
func (l *memLake) Commit(_ context.Context, m *output.Manifest) ([]output.Part, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if parts, ok := l.runs[m.RunID]; ok {
		return parts, nil
	}
	l.runs[m.RunID] = m.Parts
	return m.Parts, nil
}

// CommitStream takes a shard's held files.
func (l *memLake) CommitStream(_ context.Context, c *stream.Commit) (int, error) {
	n := 0
	for _, b := range c.Batches {
		n += len(b.Files)
	}
	return n, nil
}

// memCatalog stands for a glue-registered sink's catalog: it accepts
// each run, whose rows the case reads from the files.
type memCatalog struct{}

var _ batch.Catalog = memCatalog{}

// Register accepts the run.
func (memCatalog) Register(context.Context, *output.Manifest) error { return nil }
