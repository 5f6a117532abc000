package spec

import (
	"fmt"
	"net/url"
	"regexp"
	"time"

	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/record"
)

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
var partKeyRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_\-]*$`)

// glueNameRE is a Glue database, table or column name as Athena reads it
// unquoted.
var glueNameRE = regexp.MustCompile(`^[a-z0-9_]{1,255}$`)

// checker runs the structural checks of one spec, a section at a time,
// and collects their errors.
type checker struct {
	s    *Spec
	errs Errors
	// names are the declared field and derived names, each with the key
	// that declares it.
	names map[string]string
}

// check applies the structural rules that need no compilation to a spec
// whose defaults are applied. Errors come section by section, in this
// order.
func (s *Spec) check() Errors {
	c := &checker{s: s, names: map[string]string{}}
	c.version()
	c.source()
	c.fields()
	c.contract()
	c.derive()
	c.validate()
	c.filter()
	c.dedup()
	c.window()
	c.stream()
	c.sink()
	c.rejects()
	c.limits()
	c.errs = append(c.errs, s.checkTests(doc{file: s.file, pos: s.pos}, s.Tests)...)
	return c.errs
}

func (c *checker) add(key, format string, args ...any) {
	c.errs = append(c.errs, c.s.Errorf(key, format, args...))
}

// addErr adds err, if any, at key.
func (c *checker) addErr(key string, err error) {
	if err != nil {
		c.add(key, "%v", err)
	}
}

// declare records a field or derived name, which must be an identifier
// not used before.
func (c *checker) declare(name, key string) {
	if !identRE.MatchString(name) {
		c.add(key, "name %q must be a letter or _ followed by letters, digits or _", name)
		return
	}
	if prev, dup := c.names[name]; dup {
		c.add(key, "name %q is already used at %s", name, prev)
		return
	}
	c.names[name] = key
}

// known checks that name is a declared field or derived name.
func (c *checker) known(key, name string) {
	if _, ok := c.names[name]; !ok {
		c.add(key, "unknown field %q", name)
	}
}

// knownList checks that each of names, at key[i], is a declared name.
func (c *checker) knownList(key string, names []string) {
	for i, n := range names {
		c.known(fmt.Sprintf("%s[%d]", key, i), n)
	}
}

// expr checks that an expression is given.
func (c *checker) expr(key, expr string) {
	if expr == "" {
		c.add(key, "an expression is required")
	}
}

// char checks a one-character option.
func (c *checker) char(key, v string) {
	_, err := CharOption(v)
	c.addErr(key, err)
}

// scale checks the scale of a field or derived field of kind k.
func (c *checker) scale(key string, k record.Kind, scale int) {
	if scale != 0 && k != record.Decimal {
		c.add(key, "scale applies to decimal fields only")
	} else if k == record.Decimal && (scale < 0 || scale > record.MaxScale) {
		c.add(key, "scale must be 0 to %d", record.MaxScale)
	}
}

func (c *checker) version() {
	if c.s.Version != 1 {
		c.add("version", "unsupported version %d (this sluice reads version 1)", c.s.Version)
	}
}

func (c *checker) source() {
	src := &c.s.Source
	c.addErr("source.format", src.Format.Check())
	c.addErr("source.compression", src.Compression.Check())
	if src.MaxRecordBytes < 0 {
		c.add("source.max_record_bytes", "must not be negative")
	}
	o := src.CSV
	c.char("source.csv.delimiter", o.Delimiter)
	c.char("source.csv.quote", o.Quote)
	c.char("source.csv.comment", o.Comment)
	c.csvSourceChars()
	c.addErr("source.csv.bom", o.BOM.Check())
	if !o.HasHeader() && len(o.Columns) == 0 {
		c.add("source.csv.columns", "header is false, so columns must name the CSV columns in order")
	}
}

// csvSourceChars checks that the CSV source's delimiter, quote and
// comment characters, defaults applied, are three different characters:
// one character in two roles makes the input ambiguous. A character
// that does not read is reported by char.
func (c *checker) csvSourceChars() {
	o := c.s.Source.CSV
	d, derr := CharOption(o.Delimiter)
	q, qerr := CharOption(o.Quote)
	cm, cerr := CharOption(o.Comment)
	if derr != nil || qerr != nil || cerr != nil {
		return
	}
	if d == 0 {
		d = csvDelimiter
	}
	if q == 0 {
		q = csvQuote
	}
	if d == q {
		// Name the key the spec sets: the other one is its default.
		key := "source.csv.delimiter"
		if o.Delimiter == "" {
			key = "source.csv.quote"
		}
		c.add(key, "delimiter and quote are both %q, which would make the input ambiguous", d)
	}
	if cm == d {
		c.add("source.csv.comment", "comment and delimiter are both %q, which would make the input ambiguous", cm)
	} else if cm == q {
		c.add("source.csv.comment", "comment and quote are both %q, which would make the input ambiguous", cm)
	}
}

func (c *checker) fields() {
	if len(c.s.Fields) == 0 {
		c.add("fields", "at least one field is required")
	}
	for i, f := range c.s.Fields {
		c.field(fmt.Sprintf("fields[%d]", i), f)
	}
}

func (c *checker) field(key string, f Field) {
	c.declare(f.Name, key+".name")
	k, ok := record.ParseKind(f.Type)
	if !ok {
		c.add(key+".type", "unknown type %q (want string, int, float, decimal, bool, timestamp or date)", f.Type)
		return
	}
	c.scale(key+".scale", k, f.Scale)
	if len(f.Layouts) > 0 && k != record.Timestamp && k != record.Date {
		c.add(key+".layouts", "layouts apply to timestamp and date fields only")
	}
	if f.Timezone != "" {
		if _, err := time.LoadLocation(f.Timezone); err != nil {
			c.add(key+".timezone", "unknown time zone %q", f.Timezone)
		}
	}
	c.rules(key+".rules", k, f.Rules)
}

// rules checks that a field's rules apply to its kind k.
func (c *checker) rules(key string, k record.Kind, r Rules) {
	if l := r.Length; l != nil {
		if k != record.String {
			c.add(key+".length", "length applies to string fields only")
		}
		if (l.Min != nil && *l.Min < 0) || (l.Min != nil && l.Max != nil && *l.Min > *l.Max) {
			c.add(key+".length", "min must be >= 0 and <= max")
		}
	}
	if (r.Min != nil || r.Max != nil) && (k == record.String || k == record.Bool) {
		c.add(key, "min and max apply to numbers, timestamps and dates; use length for strings")
	}
}

func (c *checker) derive() {
	for i, d := range c.s.Derive {
		key := fmt.Sprintf("derive[%d]", i)
		c.declare(d.Name, key+".name")
		c.expr(key+".expr", d.Expr)
		k, ok := record.ParseKind(d.Type)
		if d.Type != "" && !ok {
			c.add(key+".type", "unknown type %q", d.Type)
		}
		c.scale(key+".scale", k, d.Scale)
	}
}

func (c *checker) validate() {
	for i, ck := range c.s.Validate {
		c.expr(fmt.Sprintf("validate[%d].expr", i), ck.Expr)
	}
}

func (c *checker) filter() {
	seen := map[string]bool{}
	for i, f := range c.s.Filter {
		if seen[f.Name] {
			c.add(fmt.Sprintf("filter[%d].name", i), "filter name %q is used twice", f.Name)
		}
		seen[f.Name] = true
		c.expr(fmt.Sprintf("filter[%d].expr", i), f.Expr)
	}
}

func (c *checker) dedup() {
	d := c.s.Dedup
	if d == nil {
		return
	}
	if len(d.Keys) == 0 {
		c.add("dedup.keys", "at least one key field is required")
	}
	c.knownList("dedup.keys", d.Keys)
	if d.MaxKeys < 0 {
		c.add("dedup.max_keys", "must not be negative")
	}
}

func (c *checker) stream() {
	st := c.s.Stream
	c.addErr("stream.on_failure", st.OnFailure.Check())
	switch {
	case c.s.Sink.Format != codec.SinkIceberg && (st.CommitInterval != 0 || st.CommitFiles != 0):
		c.add("stream", "commit_interval and commit_files apply to the iceberg sink only")
	case c.s.Sink.Format != codec.SinkIceberg:
	case st.CommitInterval < MinCommitInterval || st.CommitInterval > MaxCommitInterval:
		c.add("stream.commit_interval", "must be from %s to %s, not %s", time.Duration(MinCommitInterval), time.Duration(MaxCommitInterval), time.Duration(st.CommitInterval))
	case st.CommitFiles < 1 || st.CommitFiles > MaxCommitFiles:
		c.add("stream.commit_files", "must be from 1 to %d, not %d", MaxCommitFiles, st.CommitFiles)
	}
}

func (c *checker) sink() {
	k := &c.s.Sink
	switch err := k.Format.Check(); {
	case err != nil:
		c.addErr("sink.format", err)
	case k.Format == codec.SinkDynamoDB:
		c.dynamoDBSink()
	case k.Format == codec.SinkIceberg:
		c.addErr("sink.compression", k.Format.CheckCompression(k.Compression))
		c.icebergSink()
	default:
		c.addErr("sink.compression", k.Format.CheckCompression(k.Compression))
		c.plainSink()
	}
	c.sinkKeys()
	c.char("sink.csv.delimiter", k.CSV.Delimiter)
	if d, _ := CharOption(k.CSV.Delimiter); d == csvQuote {
		c.add("sink.csv.delimiter", "delimiter %q is the quote character of CSV output, which would make the output ambiguous", d)
	}
	c.partitionBy()
	if k.MaxRowsPerFile < 0 || k.MaxBytesPerFile < 0 || k.MaxOpenFiles < 0 {
		c.add("sink", "file limits must not be negative")
	}
	c.compact()
}

// sinkKeys refuses the sink keys that do not apply to the sink's format;
// the table of a plain sink is checked by plainSink.
func (c *checker) sinkKeys() {
	k := &c.s.Sink
	switch {
	case k.Format != codec.SinkDynamoDB && len(k.Key) > 0:
		c.add("sink.key", "key applies to the dynamodb sink only")
	case k.Format != codec.SinkIceberg && k.Warehouse != "":
		c.add("sink.warehouse", "warehouse applies to the iceberg sink only")
	case k.Format == codec.SinkDynamoDB && k.Catalog != "":
		c.add("sink.catalog", "catalog applies to the iceberg, jsonl, csv and parquet sinks, not dynamodb")
	}
}

// partitionBy checks the partition levels every sink shares.
func (c *checker) partitionBy() {
	k := &c.s.Sink
	for i, p := range k.PartitionBy {
		key := fmt.Sprintf("sink.partition_by[%d]", i)
		if !partKeyRE.MatchString(p.Key) {
			c.add(key+".key", "partition key %q must be letters, digits, _ or -", p.Key)
		}
		c.known(key+".field", p.Field)
		if p.Transform != "" && k.Format != codec.SinkIceberg {
			c.add(key+".transform", "transform applies to the iceberg sink only; other sinks use layout")
		}
	}
}

// icebergSink checks the iceberg sink's table, catalog and partitions,
// whose defaults are applied.
func (c *checker) icebergSink() {
	k := &c.s.Sink
	c.addErr("sink.catalog", k.Catalog.Check())
	c.warehouse()
	if !identRE.MatchString(k.Table.Namespace) {
		c.add("sink.table.namespace", "namespace %q must be a letter or _ followed by letters, digits or _", k.Table.Namespace)
	}
	if !identRE.MatchString(k.Table.Name) {
		c.add("sink.table.name", "table name %q must be a letter or _ followed by letters, digits or _", k.Table.Name)
	}
	seen := map[string]bool{}
	for i, p := range k.PartitionBy {
		key := fmt.Sprintf("sink.partition_by[%d]", i)
		if p.Layout != "" {
			c.add(key+".layout", "the iceberg sink partitions by transform, not layout")
		}
		if err := p.Transform.Check(); err != nil {
			c.add(key+".transform", "%v", err)
			continue
		}
		if seen[p.Key] {
			c.add(key+".key", "partition key %q is used twice", p.Key)
		}
		seen[p.Key] = true
		if _, isField := c.names[p.Key]; isField && (p.Key != p.Field || p.Transform != TransformIdentity) {
			c.add(key+".key", "partition key %q is a field name: Iceberg allows that for an identity partition of the same field only", p.Key)
		}
		for _, f := range c.s.Fields {
			if f.Name == p.Field && f.Drop {
				c.add(key+".field", "field %q is dropped: an iceberg table is partitioned by its own columns", p.Field)
			}
		}
		typ := c.s.typeOf(p.Field)
		switch {
		case typ == "":
		case p.Transform == TransformHour && typ != "timestamp":
			c.add(key+".transform", "hour applies to timestamp fields only")
		case (p.Transform == TransformDay || p.Transform == TransformMonth) && typ != "timestamp" && typ != "date":
			c.add(key+".transform", "%s applies to timestamp and date fields only", p.Transform)
		case p.Transform == TransformIdentity && typ == "timestamp":
			c.add(key+".transform", "a timestamp partitions by hour, day or month, not identity")
		}
	}
}

// warehouse checks the iceberg sink's warehouse against its catalog: an
// s3://bucket[/prefix] URL for glue, required; a local folder for local.
func (c *checker) warehouse() {
	k := &c.s.Sink
	u, err := url.Parse(k.Warehouse)
	isS3 := err == nil && u.Scheme == "s3"
	switch {
	case k.Catalog == CatalogGlue && k.Warehouse == "":
		// The AWS functions use the stack's warehouse; sluice run asks
		// for one.
	case k.Catalog == CatalogGlue && (!isS3 || u.Host == "" || u.RawQuery != ""):
		c.add("sink.warehouse", "the glue catalog's warehouse must be s3://bucket[/prefix], not %q", k.Warehouse)
	case k.Catalog == CatalogLocal && isS3:
		c.add("sink.warehouse", "the local catalog's warehouse is a local folder, not %q: use catalog glue for s3://", k.Warehouse)
	}
}

func (c *checker) dynamoDBSink() {
	k := &c.s.Sink
	if k.Table.Name == "" {
		c.add("sink.table", "the dynamodb sink needs a table")
	}
	if k.Table.Namespace != "" {
		c.add("sink.table.namespace", "the dynamodb sink's table is a bare name")
	}
	if n := len(k.Key); n < 1 || n > 2 {
		c.add("sink.key", "the dynamodb sink needs the table's key: the partition key and, if any, the sort key")
	}
	for i, name := range k.Key {
		key := fmt.Sprintf("sink.key[%d]", i)
		c.known(key, name)
		for _, f := range c.s.Fields {
			if f.Name == name && !f.Required {
				c.add(key, "key field %q must be required: an item cannot have a null key", name)
			}
		}
	}
	if k.Compression != "" || len(k.PartitionBy) > 0 {
		c.add("sink", "compression and partition_by do not apply to the dynamodb sink")
	}
}

func (c *checker) rejects() {
	c.addErr("rejects.policy", c.s.Rejects.Policy.Check())
	if r := c.s.Rejects.MaxRatio; r < 0 || r > 1 {
		c.add("rejects.max_ratio", "must be between 0 and 1")
	}
}

func (c *checker) limits() {
	l := c.s.Limits
	if l.MaxCompressionRatio < 0 || l.ExprMaxNodes < 0 || l.MaxInputBytes < 0 || l.MaxDecompressedBytes < 0 {
		c.add("limits", "limits must not be negative")
	}
	if w := l.MaxZstdWindow; w != 0 && (w < MinZstdWindow || w > MaxZstdWindow) {
		c.add("limits.max_zstd_window", "must be between 1KiB and 2GiB (0: the default, 32MiB)")
	}
}

// The CSV characters an empty option stands for, as the codec applies
// them; the quote of CSV output is always csvQuote.
const (
	csvDelimiter = ','
	csvQuote     = '"'
)

// CharOption reads a one-character option; "tab" and `\t` mean a tab.
// The empty string gives 0, which stands for the default; so NUL, which
// would be read as the default, is refused.
func CharOption(v string) (byte, error) {
	switch v {
	case "":
		return 0, nil
	case "tab", `\t`, "\t":
		return '\t', nil
	}
	if len(v) != 1 || v[0] == '\n' || v[0] == '\r' || v[0] >= 0x80 {
		return 0, fmt.Errorf("want a single ASCII character, not %q", v)
	}
	if v[0] == 0 {
		return 0, fmt.Errorf("want a single ASCII character other than NUL, not %q", v)
	}
	return v[0], nil
}

// compact checks sink.compact. Its defaults are applied where it is
// used (TargetBytesOrDefault, MinFilesOrDefault), so that a spec that
// leaves it out keeps its hash, and its runs their ids.
func (c *checker) compact() {
	k := c.s.Sink.Compact
	switch {
	case c.s.Sink.Format == codec.SinkDynamoDB && k != (Compact{}):
		c.add("sink.compact", "compaction applies to file and iceberg sinks, not dynamodb")
	case k.TargetBytes != 0 && k.TargetBytes < MinCompactTargetBytes:
		c.add("sink.compact.target_bytes", "must be at least 1MiB, not %d bytes", k.TargetBytes)
	case k.MinFiles != 0 && k.MinFiles < 2:
		c.add("sink.compact.min_files", "must be at least 2, not %d", k.MinFiles)
	case k.MinAge < 0:
		c.add("sink.compact.min_age", "must not be negative")
	}
}
