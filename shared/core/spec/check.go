package spec

import (
	"fmt"
	"regexp"
	"time"

	"github.com/sluice-etl/sluice/shared/core/record"
)

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
var partKeyRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_\-]*$`)

// check applies the structural rules that need no compilation.
func (s *Spec) check() Errors {
	var errs Errors
	add := func(key, format string, args ...any) { errs = append(errs, s.Errorf(key, format, args...)) }

	if s.Version == 0 {
		s.Version = 1
	}
	if s.Version != 1 {
		add("version", "unsupported version %d (this sluice reads version 1)", s.Version)
	}
	switch s.Source.Format {
	case "", "auto", "csv", "jsonl", "json":
	default:
		add("source.format", "unknown format %q (want csv, jsonl, json or auto)", s.Source.Format)
	}
	switch s.Source.Compression {
	case "", "auto", "gzip", "zstd", "none":
	default:
		add("source.compression", "unknown compression %q (want gzip, zstd, none or auto)", s.Source.Compression)
	}
	if s.Source.MaxRecordBytes < 0 {
		add("source.max_record_bytes", "must not be negative")
	}
	c := s.Source.CSV
	for key, v := range map[string]string{"delimiter": c.Delimiter, "quote": c.Quote, "comment": c.Comment} {
		if _, err := CharOption(v); err != nil {
			add("source.csv."+key, "%v", err)
		}
	}
	switch c.BOM {
	case "", "strip", "keep":
	default:
		add("source.csv.bom", "want strip or keep, not %q", c.BOM)
	}
	if !c.HasHeader() && len(c.Columns) == 0 {
		add("source.csv.columns", "header is false, so columns must name the CSV columns in order")
	}

	if len(s.Fields) == 0 {
		add("fields", "at least one field is required")
	}
	names := map[string]string{}
	declare := func(name, key string) {
		if !identRE.MatchString(name) {
			add(key, "name %q must be a letter or _ followed by letters, digits or _", name)
			return
		}
		if prev, dup := names[name]; dup {
			add(key, "name %q is already used at %s", name, prev)
			return
		}
		names[name] = key
	}
	for i, f := range s.Fields {
		key := fmt.Sprintf("fields[%d]", i)
		declare(f.Name, key+".name")
		k, ok := record.ParseKind(f.Type)
		if f.Type == "" {
			k, ok = record.String, true
			s.Fields[i].Type = "string"
		}
		if !ok {
			add(key+".type", "unknown type %q (want string, int, float, decimal, bool, timestamp or date)", f.Type)
			continue
		}
		if f.Scale != 0 && k != record.Decimal {
			add(key+".scale", "scale applies to decimal fields only")
		}
		if k == record.Decimal && (f.Scale < 0 || f.Scale > record.MaxScale) {
			add(key+".scale", "scale must be 0 to %d", record.MaxScale)
		}
		if len(f.Layouts) > 0 && k != record.Timestamp && k != record.Date {
			add(key+".layouts", "layouts apply to timestamp and date fields only")
		}
		if f.Timezone != "" {
			if _, err := time.LoadLocation(f.Timezone); err != nil {
				add(key+".timezone", "unknown time zone %q", f.Timezone)
			}
		}
		if l := f.Rules.Length; l != nil {
			if k != record.String {
				add(key+".rules.length", "length applies to string fields only")
			}
			if (l.Min != nil && *l.Min < 0) || (l.Min != nil && l.Max != nil && *l.Min > *l.Max) {
				add(key+".rules.length", "min must be >= 0 and <= max")
			}
		}
		if (f.Rules.Min != nil || f.Rules.Max != nil) && (k == record.String || k == record.Bool) {
			add(key+".rules", "min and max apply to numbers, timestamps and dates; use length for strings")
		}
	}
	for i, d := range s.Derive {
		key := fmt.Sprintf("derive[%d]", i)
		declare(d.Name, key+".name")
		if d.Expr == "" {
			add(key+".expr", "an expression is required")
		}
		k, ok := record.ParseKind(d.Type)
		if d.Type != "" && !ok {
			add(key+".type", "unknown type %q", d.Type)
		}
		if d.Scale != 0 && k != record.Decimal {
			add(key+".scale", "scale applies to decimal fields only")
		} else if k == record.Decimal && (d.Scale < 0 || d.Scale > record.MaxScale) {
			add(key+".scale", "scale must be 0 to %d", record.MaxScale)
		}
	}
	for i, ck := range s.Validate {
		if ck.Expr == "" {
			add(fmt.Sprintf("validate[%d].expr", i), "an expression is required")
		}
		if ck.Name == "" {
			s.Validate[i].Name = fmt.Sprintf("check%d", i+1)
		}
	}
	fnames := map[string]bool{}
	for i, f := range s.Filter {
		if f.Name == "" {
			s.Filter[i].Name = fmt.Sprintf("filter%d", i+1)
		}
		if fnames[s.Filter[i].Name] {
			add(fmt.Sprintf("filter[%d].name", i), "filter name %q is used twice", s.Filter[i].Name)
		}
		fnames[s.Filter[i].Name] = true
		if f.Expr == "" {
			add(fmt.Sprintf("filter[%d].expr", i), "an expression is required")
		}
	}
	if d := s.Dedup; d != nil {
		if len(d.Keys) == 0 {
			add("dedup.keys", "at least one key field is required")
		}
		for i, k := range d.Keys {
			if _, ok := names[k]; !ok {
				add(fmt.Sprintf("dedup.keys[%d]", i), "unknown field %q", k)
			}
		}
		if d.MaxKeys < 0 {
			add("dedup.max_keys", "must not be negative")
		}
	}
	s.checkWindow(names, add)
	switch s.Stream.OnFailure {
	case "":
		s.Stream.OnFailure = OnFailureReport
	case OnFailureReport, OnFailureFailFast:
	default:
		add("stream.on_failure", "want report or fail_fast, not %q", s.Stream.OnFailure)
	}

	switch s.Sink.Format {
	case "", "jsonl", "csv":
		switch s.Sink.Compression {
		case "", "none", "gzip", "zstd":
		default:
			add("sink.compression", "want none, gzip or zstd for %s output", s.sinkFormat())
		}
	case "parquet":
		switch s.Sink.Compression {
		case "", "zstd", "snappy", "gzip", "none":
		default:
			add("sink.compression", "want zstd, snappy, gzip or none for parquet")
		}
	case "dynamodb":
		if s.Sink.Table == "" {
			add("sink.table", "the dynamodb sink needs a table")
		}
		if n := len(s.Sink.Key); n < 1 || n > 2 {
			add("sink.key", "the dynamodb sink needs the table's key: the partition key and, if any, the sort key")
		}
		for i, k := range s.Sink.Key {
			if _, ok := names[k]; !ok {
				add(fmt.Sprintf("sink.key[%d]", i), "unknown field %q", k)
			}
			for _, f := range s.Fields {
				if f.Name == k && !f.Required {
					add(fmt.Sprintf("sink.key[%d]", i), "key field %q must be required: an item cannot have a null key", k)
				}
			}
		}
		if s.Sink.Compression != "" || len(s.Sink.PartitionBy) > 0 {
			add("sink", "compression and partition_by do not apply to the dynamodb sink")
		}
	default:
		add("sink.format", "unknown format %q (want jsonl, csv, parquet or dynamodb)", s.Sink.Format)
	}
	if s.Sink.Format != "dynamodb" && (s.Sink.Table != "" || len(s.Sink.Key) > 0) {
		add("sink.table", "table and key apply to the dynamodb sink only")
	}
	if _, err := CharOption(s.Sink.CSV.Delimiter); err != nil {
		add("sink.csv.delimiter", "%v", err)
	}
	for i, p := range s.Sink.PartitionBy {
		key := fmt.Sprintf("sink.partition_by[%d]", i)
		if !partKeyRE.MatchString(p.Key) {
			add(key+".key", "partition key %q must be letters, digits, _ or -", p.Key)
		}
		if _, ok := names[p.Field]; !ok {
			add(key+".field", "unknown field %q", p.Field)
		}
	}
	if s.Sink.MaxRowsPerFile < 0 || s.Sink.MaxBytesPerFile < 0 || s.Sink.MaxOpenFiles < 0 {
		add("sink", "file limits must not be negative")
	}
	switch s.Rejects.Policy {
	case "":
		s.Rejects.Policy = "quarantine"
	case "quarantine", "fail":
	default:
		add("rejects.policy", "want quarantine or fail, not %q", s.Rejects.Policy)
	}
	if s.Rejects.MaxRatio < 0 || s.Rejects.MaxRatio > 1 {
		add("rejects.max_ratio", "must be between 0 and 1")
	}
	if s.Limits.MaxCompressionRatio < 0 || s.Limits.ExprMaxNodes < 0 || s.Limits.MaxInputBytes < 0 || s.Limits.MaxDecompressedBytes < 0 {
		add("limits", "limits must not be negative")
	}
	return errs
}

func (s *Spec) sinkFormat() string {
	if s.Sink.Format == "" {
		return "jsonl"
	}
	return s.Sink.Format
}

// CharOption reads a one-character option; "tab" and `\t` mean a tab.
// The empty string gives 0.
func CharOption(v string) (byte, error) {
	switch v {
	case "":
		return 0, nil
	case "tab", `\t`, "\t":
		return '\t', nil
	}
	if len(v) != 1 || v[0] == '\n' || v[0] == '\r' {
		return 0, fmt.Errorf("want a single ASCII character, not %q", v)
	}
	return v[0], nil
}

// checkWindow checks the window section against the declared fields.
func (s *Spec) checkWindow(names map[string]string, add func(key, format string, args ...any)) {
	w := s.Window
	if w == nil {
		return
	}
	types := map[string]string{}
	for _, f := range s.Fields {
		types[f.Name] = f.Type
	}
	for _, d := range s.Derive {
		types[d.Name] = d.Type
	}
	switch w.Kind {
	case "tumbling":
		if w.Size <= 0 {
			add("window.size", "tumbling windows need a size")
		}
	case "sliding":
		if w.Size <= 0 || w.Hop <= 0 || w.Hop > w.Size || w.Size%w.Hop != 0 {
			add("window.hop", "sliding windows need a size that is a whole multiple of a hop > 0")
		}
	case "count":
		if w.Every <= 0 {
			add("window.every", "count windows need every > 0")
		}
		if w.Time != "" || w.TimeField != "" || w.Lateness != 0 {
			add("window", "time, time_field and lateness do not apply to count windows")
		}
	default:
		add("window.kind", "unknown kind %q (want tumbling, sliding or count)", w.Kind)
	}
	if w.Kind != "count" {
		if w.Time == "" {
			w.Time = WindowArrivalTime
			if w.TimeField != "" {
				w.Time = WindowEventTime
			}
		}
		switch w.Time {
		case WindowEventTime:
			switch t, ok := types[w.TimeField]; {
			case w.TimeField == "":
				add("window.time_field", "event-time windows need the timestamp field")
			case !ok:
				add("window.time_field", "unknown field %q", w.TimeField)
			case t != "timestamp" && t != "date":
				add("window.time_field", "field %q is %s, not a timestamp or date", w.TimeField, t)
			}
		case WindowArrivalTime:
			if w.TimeField != "" {
				add("window.time_field", "arrival-time windows use the stream's arrival time; remove time_field")
			}
		default:
			add("window.time", "want event or arrival, not %q", w.Time)
		}
	}
	for i, g := range w.GroupBy {
		if _, ok := names[g]; !ok {
			add(fmt.Sprintf("window.group_by[%d]", i), "unknown field %q", g)
		}
	}
	for i, a := range w.Aggregate {
		key := fmt.Sprintf("window.aggregate[%d]", i)
		switch t, ok := types[a]; {
		case !ok:
			add(key, "unknown field %q", a)
		case t != "" && t != "int" && t != "float" && t != "decimal":
			add(key, "field %q is %s; only int, float and decimal fields are aggregated", a, t)
		}
	}
	if w.Lateness < 0 {
		add("window.lateness", "must not be negative")
	}
	switch w.Late {
	case "":
		w.Late = LateDrop
	case LateDrop, LateSide:
	default:
		add("window.late", "want drop or side, not %q", w.Late)
	}
	if w.Keep < 0 {
		add("window.keep", "must not be negative")
	}
	if w.Native {
		switch {
		case w.Kind != "tumbling":
			add("window.native", "Lambda's own windows are tumbling only")
		case w.Time != WindowArrivalTime:
			add("window.native", "Lambda's own windows are by arrival time; set time: arrival")
		case w.Size > Duration(MaxNativeWindow) || w.Size%Duration(time.Second) != 0:
			add("window.size", "Lambda's own windows are whole seconds up to 15m; use native: false for longer windows")
		case w.Lateness != 0 || w.Late == LateSide:
			add("window.lateness", "Lambda's own windows have no lateness")
		}
	}
}
