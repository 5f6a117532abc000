package icebergtable

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// SnapshotInfo is one snapshot of a table's history: the audit ledger's
// line. The sluice fields are empty for snapshots sluice did not make.
type SnapshotInfo struct {
	ID        int64     `json:"snapshot_id"`
	Parent    int64     `json:"parent_id,omitempty"`
	Time      time.Time `json:"time"`
	Operation string    `json:"operation"`
	RunID     string    `json:"run_id,omitempty"`
	Source    string    `json:"source,omitempty"`
	ETag      string    `json:"etag,omitempty"`
	SpecHash  string    `json:"spec_hash,omitempty"`
	In        int64     `json:"records_in"`
	Out       int64     `json:"records_out"`
	Rejected  int64     `json:"records_rejected"`
	Filtered  int64     `json:"records_filtered"`
	// AddedRecords and TotalRecords are Iceberg's own counts: rows the
	// snapshot added, rows in the table after it.
	AddedRecords   int64 `json:"added_records"`
	DeletedRecords int64 `json:"deleted_records"`
	TotalRecords   int64 `json:"total_records"`
	// SchemaID is the schema the snapshot was written with, and
	// SchemaChanges how it differs from the schema of the snapshot before
	// (none for the first, or the same schema).
	SchemaID      int      `json:"schema_id"`
	SchemaChanges []string `json:"schema_changes,omitempty"`
}

// SchemaInfo is one schema of a table: every schema the table has had
// stays in its metadata, with how it differs from the one before it.
type SchemaInfo struct {
	ID      int  `json:"schema_id"`
	Current bool `json:"current"`
	// Columns is the number of columns.
	Columns int `json:"columns"`
	// Changes are the differences from the schema before, by field id:
	// added, dropped, renamed, widened columns and columns made optional
	// or required. The first schema has none.
	Changes []string `json:"changes"`
}

// ColumnInfo is one column of a table's schema.
type ColumnInfo struct {
	ID       int    `json:"id"`
	Name     string `json:"name"`
	Type     string `json:"type"`
	Required bool   `json:"required"`
}

// PartitionInfo is one partition of a table's current snapshot.
type PartitionInfo struct {
	Partition string `json:"partition"`
	Files     int    `json:"files"`
	Records   int64  `json:"records"`
	Bytes     int64  `json:"bytes"`
}

// TableInfo describes a table: its schema, partition spec and the rows
// per partition of its current snapshot.
type TableInfo struct {
	Name        string          `json:"table"`
	Location    string          `json:"location"`
	Snapshot    int64           `json:"current_snapshot_id,omitempty"`
	Columns     []ColumnInfo    `json:"columns"`
	PartitionBy []string        `json:"partition_by"`
	Partitions  []PartitionInfo `json:"partitions"`
	Files       int             `json:"files"`
	Records     int64           `json:"records"`
}

// ParseName splits "namespace.name".
func ParseName(name string) (table.Identifier, error) {
	ns, tbl, ok := strings.Cut(name, ".")
	if !ok || ns == "" || tbl == "" || strings.Contains(tbl, ".") {
		return nil, fmt.Errorf("table %q: want namespace.name", name)
	}
	return table.Identifier{ns, tbl}, nil
}

// Tables lists the catalog's tables as namespace.name, sorted.
func (c *Catalog) Tables(ctx context.Context) ([]string, error) {
	nss, err := c.ListNamespaces(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	var out []string
	for _, ns := range nss {
		for id, err := range c.ListTables(ctx, ns) {
			if err != nil {
				return nil, fmt.Errorf("list tables of %s: %w", strings.Join(ns, "."), err)
			}
			out = append(out, strings.Join(id, "."))
		}
	}
	sort.Strings(out)
	return out, nil
}

// History is the table's snapshots, oldest first.
func (c *Catalog) History(ctx context.Context, name string) ([]SnapshotInfo, error) {
	tbl, err := c.load(ctx, name)
	if err != nil {
		return nil, err
	}
	snaps := tbl.Metadata().Snapshots()
	out := make([]SnapshotInfo, 0, len(snaps))
	for _, s := range snaps {
		out = append(out, snapshotInfo(s, tbl.Metadata().CurrentSchema().ID))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	schemas := schemasByID(tbl.Metadata())
	for i := 1; i < len(out); i++ {
		prev, cur := schemas[out[i-1].SchemaID], schemas[out[i].SchemaID]
		if prev != nil && cur != nil && prev.ID != cur.ID {
			out[i].SchemaChanges = schemaChanges(prev, cur)
		}
	}
	return out, nil
}

// Schemas lists the table's schemas, oldest first, each with how it
// differs from the one before.
func (c *Catalog) Schemas(ctx context.Context, name string) ([]SchemaInfo, error) {
	tbl, err := c.load(ctx, name)
	if err != nil {
		return nil, err
	}
	md := tbl.Metadata()
	list := md.Schemas()
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	out := make([]SchemaInfo, 0, len(list))
	for i, sc := range list {
		si := SchemaInfo{ID: sc.ID, Current: sc.ID == md.CurrentSchema().ID, Columns: len(sc.Fields()), Changes: []string{}}
		if i > 0 {
			si.Changes = schemaChanges(list[i-1], sc)
		}
		out = append(out, si)
	}
	return out, nil
}

func schemasByID(md table.Metadata) map[int]*iceberg.Schema {
	out := map[int]*iceberg.Schema{}
	for _, sc := range md.Schemas() {
		out[sc.ID] = sc
	}
	return out
}

// schemaChanges lists how cur differs from prev, column by column, by
// field id.
func schemaChanges(prev, cur *iceberg.Schema) []string {
	out := []string{}
	for _, f := range cur.Fields() {
		p, ok := prev.FindFieldByID(f.ID)
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("added %s (%s, %s)", f.Name, f.Type, requiredWord(f.Required)))
			continue
		case p.Name != f.Name:
			out = append(out, fmt.Sprintf("renamed %s to %s", p.Name, f.Name))
		}
		if !p.Type.Equals(f.Type) {
			out = append(out, fmt.Sprintf("widened %s from %s to %s", f.Name, p.Type, f.Type))
		}
		if p.Required != f.Required {
			out = append(out, fmt.Sprintf("made %s %s", f.Name, requiredWord(f.Required)))
		}
	}
	for _, p := range prev.Fields() {
		if _, ok := cur.FindFieldByID(p.ID); !ok {
			out = append(out, fmt.Sprintf("dropped %s", p.Name))
		}
	}
	return out
}

// snapshotInfo is a snapshot's ledger line; a snapshot that names no
// schema (format v1) was written with the current one.
func snapshotInfo(s table.Snapshot, currentSchema int) SnapshotInfo {
	si := SnapshotInfo{ID: s.SnapshotID, Time: time.UnixMilli(s.TimestampMs).UTC(), SchemaID: currentSchema}
	if s.ParentSnapshotID != nil {
		si.Parent = *s.ParentSnapshotID
	}
	if s.SchemaID != nil {
		si.SchemaID = *s.SchemaID
	}
	if s.Summary == nil {
		return si
	}
	p := s.Summary.Properties
	num := func(k string) int64 { n, _ := strconv.ParseInt(p[k], 10, 64); return n }
	si.Operation = string(s.Summary.Operation)
	si.RunID, si.ETag, si.SpecHash = p[PropRunID], p[PropSourceETag], p[PropSpecHash]
	if p[PropSourceKey] != "" {
		si.Source = strings.TrimSuffix(p[PropSourceBucket], "/") + "/" + p[PropSourceKey]
	}
	si.In, si.Out, si.Rejected, si.Filtered = num(PropRecordsIn), num(PropRecordsOut), num(PropRejected), num(PropFiltered)
	si.AddedRecords, si.DeletedRecords, si.TotalRecords = num("added-records"), num("deleted-records"), num("total-records")
	return si
}

// Describe gives the table's schema, partition spec and, for its current
// snapshot, the files and rows of each partition.
func (c *Catalog) Describe(ctx context.Context, name string) (*TableInfo, error) {
	tbl, err := c.load(ctx, name)
	if err != nil {
		return nil, err
	}
	info := &TableInfo{Name: name, Location: tbl.Location(), Columns: []ColumnInfo{}, PartitionBy: []string{}, Partitions: []PartitionInfo{}}
	for _, f := range tbl.Schema().Fields() {
		info.Columns = append(info.Columns, ColumnInfo{ID: f.ID, Name: f.Name, Type: f.Type.String(), Required: f.Required})
	}
	spec := tbl.Spec()
	for _, f := range spec.Fields() {
		src, _ := tbl.Schema().FindColumnName(f.SourceID())
		info.PartitionBy = append(info.PartitionBy, fmt.Sprintf("%s=%s(%s)", f.Name, f.Transform, src))
	}
	files, err := LiveFiles(ctx, tbl)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", name, err)
	}
	if cur := tbl.CurrentSnapshot(); cur != nil {
		info.Snapshot = cur.SnapshotID
	}
	byPart := map[string]*PartitionInfo{}
	for _, df := range files {
		key := partitionValues(&spec, tbl.Schema(), df)
		p := byPart[key]
		if p == nil {
			p = &PartitionInfo{Partition: key}
			byPart[key] = p
		}
		p.Files++
		p.Records += df.Count()
		p.Bytes += df.FileSizeBytes()
		info.Files++
		info.Records += df.Count()
	}
	for _, p := range byPart {
		info.Partitions = append(info.Partitions, *p)
	}
	sort.Slice(info.Partitions, func(i, j int) bool { return info.Partitions[i].Partition < info.Partitions[j].Partition })
	return info, nil
}

// LiveFiles lists the data files of the table's current snapshot.
func LiveFiles(ctx context.Context, tbl *table.Table) ([]iceberg.DataFile, error) {
	var out []iceberg.DataFile
	err := eachLiveEntry(ctx, tbl, func(e iceberg.ManifestEntry) { out = append(out, e.DataFile()) })
	return out, err
}

// eachLiveEntry calls fn with each data file entry of the table's current
// snapshot.
func eachLiveEntry(ctx context.Context, tbl *table.Table, fn func(iceberg.ManifestEntry)) error {
	cur := tbl.CurrentSnapshot()
	if cur == nil {
		return nil
	}
	fs, err := tbl.FS(ctx)
	if err != nil {
		return err
	}
	mans, err := cur.Manifests(fs)
	if err != nil {
		return fmt.Errorf("manifests: %w", err)
	}
	for _, m := range mans {
		if m.ManifestContent() != iceberg.ManifestContentData {
			continue
		}
		for e, err := range m.Entries(fs, true) {
			if err != nil {
				return fmt.Errorf("manifest %s: %w", m.FilePath(), err)
			}
			fn(e)
		}
	}
	return nil
}

// partitionValues writes a data file's partition as name=value/...,
// with the transform's human form of each value.
func partitionValues(spec *iceberg.PartitionSpec, sc *iceberg.Schema, df iceberg.DataFile) string {
	vals := df.Partition()
	var parts []string
	for _, f := range spec.Fields() {
		v, ok := vals[f.FieldID]
		text := "null"
		if src, found := sc.FindFieldByID(f.SourceID()); ok && v != nil && found {
			text = f.Transform.ToHumanStrType(src.Type, v)
		}
		parts = append(parts, f.Name+"="+text)
	}
	return strings.Join(parts, "/")
}

// Load loads a table by namespace.name.
func (c *Catalog) Load(ctx context.Context, name string) (*table.Table, error) {
	return c.load(ctx, name)
}

func (c *Catalog) load(ctx context.Context, name string) (*table.Table, error) {
	id, err := ParseName(name)
	if err != nil {
		return nil, err
	}
	tbl, err := c.LoadTable(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", name, err)
	}
	return tbl, nil
}
