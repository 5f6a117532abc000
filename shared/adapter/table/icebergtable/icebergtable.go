// Package icebergtable is the iceberg sink's table: an Apache Iceberg
// table in one of two catalogs, through iceberg-go: the local catalog
// (iceberg-go's SQL catalog on SQLite, the pure-Go modernc.org/sqlite
// driver, with a file:// warehouse), or the AWS Glue Data Catalog with an
// s3:// warehouse. Both go through the same code; only opening the
// catalog and naming its files differ (catalog.go). It implements
// batch.Lake; only the CLI imports it, so iceberg-go stays out of the
// Lambda bootstraps.
//
// The table is created on first use from the spec (Schema, PartitionSpec)
// and, when a later spec's output differs, evolved to take it in one
// schema update before any data is written, or the spec is refused
// (evolve.go). sluice writes the data files with its own Parquet writer
// (the table's field ids and required columns) and registers them with
// AddFiles, which reads each footer; it never writes Iceberg metadata
// itself.
//
// Exactly once: each run commits one snapshot whose summary holds
// sluice.run-id, the source (sluice.source-bucket, -key, -etag), the spec
// hash and the counts. Commit first looks for the run's snapshot in the
// table's history and commits nothing if it is there, so a repeated run
// or a retried finalize adds nothing. A commit on a stale base is refused
// by the catalog, as table.ErrCommitFailed (Glue's
// ConcurrentModificationException on a stale VersionId, or the SQL
// catalog's moved metadata pointer) or as a plain "requirement failed"
// error depending on where iceberg-go notices; either way the
// table is reloaded and the commit rebuilt, until it wins or finds the
// run committed. The data files of earlier runs of the same source object
// (the files added by snapshots whose summary names that source) are
// removed in the same snapshot, so a corrected upload replaces its rows.
//
// Expiring the snapshot that holds a run removes its marker: a rerun of
// that source object after an expiry commits again.
package icebergtable

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"
	_ "modernc.org/sqlite" // the pure-Go SQLite driver, "sqlite"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/core/layout"
	"github.com/sluice-etl/sluice/shared/core/record"
	"github.com/sluice-etl/sluice/shared/core/spec"
	"github.com/sluice-etl/sluice/shared/pipeline/batch"
	"github.com/sluice-etl/sluice/shared/pipeline/output"
)

// Snapshot summary properties sluice sets on each commit.
const (
	PropRunID        = "sluice.run-id"
	PropSourceBucket = "sluice.source-bucket"
	PropSourceKey    = "sluice.source-key"
	PropSourceETag   = "sluice.source-etag"
	PropSpecHash     = "sluice.spec-hash"
	PropRecordsIn    = "sluice.records_in"
	PropRecordsOut   = "sluice.records_out"
	PropRejected     = "sluice.records_rejected"
	PropFiltered     = "sluice.records_filtered"
)

// CatalogName is the name sluice gives its catalogs in iceberg-go.
const CatalogName = "sluice"

// Options configure a Table.
type Options struct {
	// MaxAttempts bounds the commit attempts lost to concurrent commits
	// (default 1000).
	MaxAttempts int
	// Backoff is the pause before the nth retry (default n ms, capped at
	// 50 ms).
	Backoff func(attempt int) time.Duration
	// OnConflict, if set, is told of each commit lost to a concurrent
	// one, before the retry.
	OnConflict func(err error)
	// TableFieldIDs says the data files are written with the field ids
	// FieldIDs returns once the table is prepared (batch.Run puts them in
	// the job), so Prepare may evolve the table into any schema Iceberg
	// allows. Without it the files give each column its position in the
	// spec's output plus one as its id, as the AWS functions and the
	// stream path write them, and Prepare refuses a change after which a
	// column's id in the table is not that.
	TableFieldIDs bool
}

// Table is one Iceberg table in a catalog.
type Table struct {
	cat    *Catalog
	ident  table.Identifier
	name   string
	schema *iceberg.Schema
	spec   iceberg.PartitionSpec
	loc    string // the table's folder, as a key in cat.Files()
	prefix string // data files' key prefix in cat.Files()
	opt    Options

	mu  sync.Mutex
	ids []int // the table's field ids of the output columns, once prepared
}

var _ batch.LakeFieldIDs = (*Table)(nil)

// New returns the table sp's iceberg sink names, in the catalog loc
// names, for output rows of schema out. It opens the catalog but neither
// creates nor checks the table: Prepare does.
func New(ctx context.Context, loc Location, sp *spec.Spec, out *record.Schema, optFns ...func(*Options)) (*Table, error) {
	sc, err := Schema(sp, out)
	if err != nil {
		return nil, err
	}
	ps, err := PartitionSpec(sp, sc)
	if err != nil {
		return nil, err
	}
	c, err := Open(ctx, loc)
	if err != nil {
		return nil, err
	}
	ns, name := sp.Sink.Table.Namespace, sp.Sink.Table.Name
	tl := c.TableLocation(ns, name)
	t := &Table{
		cat: c, ident: table.Identifier{ns, name}, name: ns + "." + name,
		schema: sc, spec: ps, loc: tl, prefix: layout.TableDataPrefix(tl),
	}
	for _, fn := range optFns {
		fn(&t.opt)
	}
	if t.opt.MaxAttempts <= 0 {
		t.opt.MaxAttempts = 1000
	}
	if t.opt.Backoff == nil {
		t.opt.Backoff = func(n int) time.Duration { return time.Duration(min(n, 50)) * time.Millisecond }
	}
	return t, nil
}

// Close closes the catalog.
func (t *Table) Close() error { return t.cat.Close() }

// Name is namespace.name.
func (t *Table) Name() string { return t.name }

// Files is the bucket holding the table's files (the local catalog's
// folder, or the Glue warehouse's bucket), and the data files' prefix in
// it.
func (t *Table) Files() (storage.Bucket, string) { return t.cat.Files(), t.prefix }

// Prepare creates the table with the spec's schema and partition spec,
// or evolves the existing table to take the spec's output in one schema
// update (evolve.go), or refuses the spec with an IncompatibleError
// naming the columns. A schema update that loses a race to another is
// planned again on the new schema.
func (t *Table) Prepare(ctx context.Context) error {
	return t.retry(ctx, "schema update", func() error { return t.prepareOnce(ctx) })
}

func (t *Table) prepareOnce(ctx context.Context) error {
	tbl, err := t.cat.LoadTable(ctx, t.ident)
	if isNoSuchTable(err) {
		tbl, err = t.create(ctx)
	}
	if err != nil {
		return fmt.Errorf("table %s: %w", t.name, err)
	}
	ev, err := t.plan(ctx, tbl)
	if err != nil {
		return err
	}
	if err := ev.Err(); err != nil {
		return err
	}
	if ev.Updates() {
		if tbl, err = t.evolve(ctx, tbl, ev); err != nil {
			return err
		}
	}
	ids, err := fieldIDs(tbl.Schema(), t.schema)
	if err != nil {
		return fmt.Errorf("table %s: %w", t.name, err)
	}
	t.mu.Lock()
	t.ids = ids
	t.mu.Unlock()
	return nil
}

// FieldIDs are the field ids the table gives the spec's output columns,
// in output order, once Prepare has run (nil before): the ids the data
// files must carry.
func (t *Table) FieldIDs() []int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.ids)
}

func isNoSuchTable(err error) bool { return errors.Is(err, catalog.ErrNoSuchTable) }

// create creates the namespace, if need be, and the table.
func (t *Table) create(ctx context.Context) (*table.Table, error) {
	ns := table.Identifier{t.ident[0]}
	if err := t.cat.CreateNamespace(ctx, ns, nil); err != nil && !errors.Is(err, catalog.ErrNamespaceAlreadyExists) {
		return nil, fmt.Errorf("create namespace %s: %w", ns[0], err)
	}
	tbl, err := t.cat.CreateTable(ctx, t.ident, t.schema,
		catalog.WithPartitionSpec(&t.spec), catalog.WithLocation(t.cat.URL(t.loc)))
	if errors.Is(err, catalog.ErrTableAlreadyExists) {
		// Created meanwhile by a concurrent run.
		return t.cat.LoadTable(ctx, t.ident)
	}
	return tbl, err
}

// Lookup returns the data files of runID's snapshot, if the table has
// one.
func (t *Table) Lookup(ctx context.Context, runID string) ([]output.Part, bool, error) {
	tbl, err := t.cat.LoadTable(ctx, t.ident)
	if err != nil {
		return nil, false, fmt.Errorf("table %s: %w", t.name, err)
	}
	return t.lookup(ctx, tbl, runID)
}

func (t *Table) lookup(ctx context.Context, tbl *table.Table, runID string) ([]output.Part, bool, error) {
	snap := findRun(tbl.Metadata().Snapshots(), runID)
	if snap == nil {
		return nil, false, nil
	}
	files, err := t.addedFiles(ctx, tbl, snap.SnapshotID)
	return files, err == nil, err
}

// findRun is the snapshot whose summary names runID, or nil.
func findRun(snaps []table.Snapshot, runID string) *table.Snapshot {
	for i := range snaps {
		if s := snaps[i].Summary; s != nil && s.Properties[PropRunID] == runID {
			return &snaps[i]
		}
	}
	return nil
}

// addedFiles lists the data files a snapshot added, from its manifests.
func (t *Table) addedFiles(ctx context.Context, tbl *table.Table, id int64) ([]output.Part, error) {
	snap := tbl.SnapshotByID(id)
	fs, err := tbl.FS(ctx)
	if err != nil {
		return nil, err
	}
	mans, err := snap.Manifests(fs)
	if err != nil {
		return nil, fmt.Errorf("table %s: manifests of snapshot %d: %w", t.name, id, err)
	}
	var parts []output.Part
	for _, m := range mans {
		if m.ManifestContent() != iceberg.ManifestContentData {
			continue
		}
		for e, err := range m.Entries(fs, true) {
			if err != nil {
				return nil, fmt.Errorf("table %s: manifest %s: %w", t.name, m.FilePath(), err)
			}
			if e.SnapshotID() != id || e.Status() != iceberg.EntryStatusADDED {
				continue
			}
			df := e.DataFile()
			key, err := t.cat.Key(df.FilePath())
			if err != nil {
				return nil, fmt.Errorf("table %s: %w", t.name, err)
			}
			partition, err := layout.PartitionOf(t.prefix, key)
			if err != nil {
				return nil, fmt.Errorf("table %s: %w", t.name, err)
			}
			parts = append(parts, output.Part{Key: key, Partition: partition, Records: df.Count(), Bytes: df.FileSizeBytes()})
		}
	}
	return parts, nil
}

// Commit commits m's data files in one snapshot, replacing the files of
// earlier runs of the same source object, and returns the files of the
// run's snapshot: this call's, or those of an attempt that committed the
// run first.
func (t *Table) Commit(ctx context.Context, m *output.Manifest) ([]output.Part, error) {
	var parts []output.Part
	err := t.retry(ctx, "commit of run "+m.RunID, func() error {
		var err error
		parts, err = t.commitOnce(ctx, m)
		return err
	})
	return parts, err
}

// retry runs one commit attempt after another while they lose races to
// concurrent commits.
func (t *Table) retry(ctx context.Context, what string, once func() error) error {
	for attempt := 1; ; attempt++ {
		err := once()
		if err == nil || !IsConflict(err) {
			return err
		}
		if t.opt.OnConflict != nil {
			t.opt.OnConflict(err)
		}
		if attempt >= t.opt.MaxAttempts {
			return fmt.Errorf("table %s: %s lost %d races: %w", t.name, what, attempt, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(t.opt.Backoff(attempt)):
		}
	}
}

// commitOnce loads the table and commits m on it, or finds m committed.
func (t *Table) commitOnce(ctx context.Context, m *output.Manifest) ([]output.Part, error) {
	tbl, err := t.cat.LoadTable(ctx, t.ident)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", t.name, err)
	}
	if parts, done, err := t.lookup(ctx, tbl, m.RunID); done || err != nil {
		return parts, err
	}
	add, keys := make([]string, len(m.Parts)), make([]string, len(m.Parts))
	for i, p := range m.Parts {
		add[i], keys[i] = t.cat.URL(p.Key), p.Key
	}
	if err := t.checkFieldIDs(ctx, tbl, keys); err != nil {
		return nil, err
	}
	drop, err := t.earlierFiles(ctx, tbl, m)
	if err != nil {
		return nil, err
	}
	txn := tbl.NewTransaction()
	props := summary(m)
	if len(drop) > 0 {
		err = txn.ReplaceDataFiles(ctx, drop, add, props)
	} else {
		// With no files, AddFiles still commits a snapshot: a run with no
		// rows is in the ledger too, and a rerun finds it.
		err = txn.AddFiles(ctx, add, props, false)
	}
	if err != nil {
		return nil, fmt.Errorf("table %s: stage the commit of run %s: %w", t.name, m.RunID, err)
	}
	if _, err := txn.Commit(ctx); err != nil {
		return nil, fmt.Errorf("table %s: commit run %s: %w", t.name, m.RunID, err)
	}
	return m.Parts, nil
}

// earlierFiles lists the live data files that earlier runs of m's source
// object added: those of snapshots whose summary names the same source
// bucket and key and another run.
func (t *Table) earlierFiles(ctx context.Context, tbl *table.Table, m *output.Manifest) ([]string, error) {
	earlier := map[int64]bool{}
	for _, s := range tbl.Metadata().Snapshots() {
		p := s.Summary
		if p != nil && p.Properties[PropSourceBucket] == m.Source.Bucket && p.Properties[PropSourceKey] == m.Source.Key && p.Properties[PropRunID] != m.RunID {
			earlier[s.SnapshotID] = true
		}
	}
	if len(earlier) == 0 {
		return nil, nil
	}
	var drop []string
	err := eachLiveEntry(ctx, tbl, func(e iceberg.ManifestEntry) {
		if earlier[e.SnapshotID()] {
			drop = append(drop, e.DataFile().FilePath())
		}
	})
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", t.name, err)
	}
	return drop, nil
}

// summary is the snapshot summary of a run: its identity and accounting.
func summary(m *output.Manifest) iceberg.Properties {
	itoa := func(n int64) string { return strconv.FormatInt(n, 10) }
	return iceberg.Properties{
		PropRunID:        m.RunID,
		PropSourceBucket: m.Source.Bucket,
		PropSourceKey:    m.Source.Key,
		PropSourceETag:   m.Source.ETag,
		PropSpecHash:     m.SpecHash,
		PropRecordsIn:    itoa(m.In),
		PropRecordsOut:   itoa(m.Out),
		PropRejected:     itoa(m.Rejected),
		PropFiltered:     itoa(m.Filtered),
	}
}

// IsConflict reports whether err is a commit refused because the table
// moved underneath it: table.ErrCommitFailed, or the plain "requirement
// failed" errors iceberg-go returns when a requirement of the transaction
// (the branch's snapshot, the schema or spec id) no longer holds.
func IsConflict(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, table.ErrCommitFailed) {
		return true
	}
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "requirement failed") || strings.Contains(msg, "database is locked") || strings.Contains(msg, "sqlite_busy")
}
