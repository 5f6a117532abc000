package batch_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/adapter/storage/memblob"
	"github.com/sluice-etl/sluice/shared/core/layout"
	"github.com/sluice-etl/sluice/shared/pipeline/batch"
	"github.com/sluice-etl/sluice/shared/pipeline/output"
)

// fakeCatalog records what each Register saw in the output bucket, and
// fails while fail is set.
type fakeCatalog struct {
	out  storage.Bucket
	fail error
	// calls are the run ids registered; seen, per call, whether every
	// part was published and whether the manifest was written.
	calls                   []string
	partsThere, manifestYet []bool
}

func (f *fakeCatalog) Register(ctx context.Context, m *output.Manifest) error {
	f.calls = append(f.calls, m.RunID)
	there := len(m.Parts) > 0
	for _, p := range m.Parts {
		if _, err := f.out.Attributes(ctx, p.Key); err != nil {
			there = false
		}
	}
	_, err := f.out.Attributes(ctx, layout.ManifestKey(""))
	f.partsThere = append(f.partsThere, there)
	f.manifestYet = append(f.manifestYet, err == nil)
	return f.fail
}

var _ batch.Catalog = (*fakeCatalog)(nil)

// Finalize registers a succeeded run once its parts are published and
// before its manifest and success marker.
func TestCatalogRegistersBeforeTheManifest(t *testing.T) {
	p := mustPlan(t, quotedSpec)
	in, out := memblob.New(), memblob.New()
	put(t, in, "q.csv", quotedCSV(400))
	cat := &fakeCatalog{out: out}
	m, err := batch.Run(ctx, p, batch.RunOptions{Input: in, Key: "q.csv", Output: out, Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cat.calls, []string{m.RunID}) || !cat.partsThere[0] || cat.manifestYet[0] {
		t.Fatalf("calls %v, parts published %v, manifest written %v; want one call after the parts, before the manifest", cat.calls, cat.partsThere, cat.manifestYet)
	}
	if _, err := out.Attributes(ctx, layout.SuccessName); err != nil {
		t.Errorf("no _SUCCESS after the run: %v", err)
	}
}

// A registration failure fails the run with a clear error and keeps its
// data files; a rerun registers again and succeeds.
func TestCatalogFailureFailsTheRun(t *testing.T) {
	p := mustPlan(t, quotedSpec)
	in, out := memblob.New(), memblob.New()
	put(t, in, "q.csv", quotedCSV(400))
	cat := &fakeCatalog{out: out, fail: errors.New("glue is down")}
	m, err := batch.Run(ctx, p, batch.RunOptions{Input: in, Key: "q.csv", Output: out, Catalog: cat})
	if !errors.Is(err, batch.ErrRegister) || err.Error() != "register the output in the catalog: glue is down" {
		t.Fatalf("err = %v, want ErrRegister", err)
	}
	if m.Status != output.StatusFailed || m.Error != err.Error() {
		t.Errorf("manifest status %s, error %q", m.Status, m.Error)
	}
	if _, err := out.Attributes(ctx, layout.SuccessName); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("_SUCCESS after a failed registration: %v", err)
	}
	for _, part := range m.Parts {
		if _, err := out.Attributes(ctx, part.Key); err != nil {
			t.Errorf("data file %s is gone after a failed registration: %v", part.Key, err)
		}
	}
	if len(m.Parts) == 0 {
		t.Fatal("the run listed no parts")
	}
	cat.fail = nil
	again, err := batch.Run(ctx, p, batch.RunOptions{Input: in, Key: "q.csv", Output: out, Catalog: cat})
	if err != nil || again.Status != output.StatusSucceeded {
		t.Fatalf("rerun: %v, status %s", err, again.Status)
	}
	if len(cat.calls) != 2 || cat.calls[1] != m.RunID {
		t.Errorf("calls %v, want the run registered again", cat.calls)
	}
}

// A run that fails on its own (over rejects.max_ratio) is not registered.
func TestCatalogSkipsFailedRuns(t *testing.T) {
	p := mustPlan(t, quotedSpec+"rejects: {max_ratio: 0.05}\n")
	in, out := memblob.New(), memblob.New()
	put(t, in, "q.csv", quotedCSV(130))
	cat := &fakeCatalog{out: out}
	if _, err := batch.Run(ctx, p, batch.RunOptions{Input: in, Key: "q.csv", Output: out, Catalog: cat}); err == nil {
		t.Fatal("the run succeeded")
	}
	if len(cat.calls) != 0 {
		t.Errorf("a failed run was registered: %v", cat.calls)
	}
}

// A spec that registers in glue, run without a Catalog, fails before any
// data is published rather than leave its output unregistered.
func TestCatalogMissingFailsTheRun(t *testing.T) {
	p := mustPlan(t, strings.Replace(quotedSpec, "sink: {format: jsonl,", "sink: {format: jsonl, catalog: glue, table: {namespace: s, name: t},", 1))
	in, out := memblob.New(), memblob.New()
	put(t, in, "q.csv", quotedCSV(100))
	m, err := batch.Run(ctx, p, batch.RunOptions{Input: in, Key: "q.csv", Output: out})
	if !errors.Is(err, batch.ErrNoCatalog) || m.Status != output.StatusFailed {
		t.Fatalf("err = %v, status %v; want ErrNoCatalog", err, m.Status)
	}
	assertNoSuccess(t, out)
}
