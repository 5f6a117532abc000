package spec

import (
	"fmt"

	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/window"
)

// Bounds of limits.max_zstd_window. The default admits every standard
// zstd level (1 to 19 use windows of at most 8 MiB) and --ultra -20,
// while a frame's memory, about twice its window, stays small on a
// 512 MB Lambda; zstd --long (128 MiB by default), --ultra -21 and -22
// need a larger value. The largest is zstd's own largest window.
const (
	DefaultMaxZstdWindow = 32 << 20
	MinZstdWindow        = 1 << 10
	MaxZstdWindow        = 2 << 30
)

// applyDefaults fills in, once and before the checks, what a spec may
// leave out and its users read as set: the version, field types, each
// field's missing column policy (the source's), check and filter names,
// the window's time mode and late policy, the stream's failure mode and
// the reject policy. Options whose empty value is their default (source
// format and compression, BOM, the schema contract's unknown and missing
// column policies, sink format and compression) stay empty, so a spec
// that leaves them out keeps its hash; the limits' defaults are applied
// where they are used.
func (s *Spec) applyDefaults() {
	if s.Version == 0 {
		s.Version = 1
	}
	for i := range s.Fields {
		f := &s.Fields[i]
		if f.Type == "" {
			f.Type = "string"
		}
		if f.Missing == "" {
			// Empty when the source's is: each format's own behaviour.
			f.Missing = s.Source.MissingColumns
		}
	}
	for i := range s.Validate {
		if s.Validate[i].Name == "" {
			s.Validate[i].Name = fmt.Sprintf("check%d", i+1)
		}
	}
	for i := range s.Filter {
		if s.Filter[i].Name == "" {
			s.Filter[i].Name = fmt.Sprintf("filter%d", i+1)
		}
	}
	if w := s.Window; w != nil {
		if w.Time == "" && w.Kind != window.Count {
			w.Time = WindowArrivalTime
			if w.TimeField != "" {
				w.Time = WindowEventTime
			}
		}
		if w.Late == "" {
			w.Late = window.LateDrop
		}
	}
	if s.Stream.OnFailure == "" {
		s.Stream.OnFailure = OnFailureReport
	}
	if s.Rejects.Policy == "" {
		s.Rejects.Policy = RejectQuarantine
	}
	if s.Sink.Format == codec.SinkIceberg {
		s.icebergDefaults()
	}

}

// DefaultNamespace and DefaultTableName name an iceberg sink's table when
// the spec does not (the table's name is the spec's name if it has one).
const (
	DefaultNamespace = "default"
	DefaultTableName = "sluice"
)

// icebergDefaults fills in the iceberg sink's catalog, table and
// partition transforms: day for timestamps, identity for other fields.
func (s *Spec) icebergDefaults() {
	if s.Stream.CommitInterval == 0 {
		s.Stream.CommitInterval = DefaultCommitInterval
	}
	if s.Stream.CommitFiles == 0 {
		s.Stream.CommitFiles = DefaultCommitFiles
	}
	k := &s.Sink
	if k.Catalog == "" {
		k.Catalog = CatalogLocal
	}
	if k.Table.Namespace == "" {
		k.Table.Namespace = DefaultNamespace
	}
	if k.Table.Name == "" {
		k.Table.Name = s.Name
		if k.Table.Name == "" {
			k.Table.Name = DefaultTableName
		}
	}
	for i := range k.PartitionBy {
		p := &k.PartitionBy[i]
		if p.Transform == "" {
			p.Transform = TransformIdentity
			if s.typeOf(p.Field) == "timestamp" {
				p.Transform = TransformDay
			}
		}
	}
}

// typeOf is the declared type of a field or derived field, or "".
func (s *Spec) typeOf(name string) string {
	for _, f := range s.Fields {
		if f.Name == name {
			return f.Type
		}
	}
	for _, d := range s.Derive {
		if d.Name == name {
			return d.Type
		}
	}
	return ""
}
