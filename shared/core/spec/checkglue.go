package spec

import (
	"fmt"
	"strings"
)

// plainSink checks the Glue registration of a jsonl, csv or parquet sink:
// sink.catalog glue with sink.table naming the Glue database and table.
// The local catalog is the iceberg sink's alone.
func (c *checker) plainSink() {
	k := &c.s.Sink
	format := k.Format.OrDefault()
	switch err := k.Catalog.Check(); {
	case err != nil:
		c.addErr("sink.catalog", err)
	case k.Catalog == CatalogLocal:
		c.add("sink.catalog", "catalog local applies to the iceberg sink only; a %s sink registers its output with catalog glue, or in no catalog", format)
	case k.Catalog == CatalogGlue:
		c.glueTable()
		c.glueColumns()
	case k.Table != (TableRef{}):
		c.add("sink.table", "table applies to a %s sink with catalog glue (its Glue database and table), and to the dynamodb and iceberg sinks", format)
	}
}

// glueTable checks the Glue database and table a plain sink registers
// its output in: both required, and Glue names.
func (c *checker) glueTable() {
	t := c.s.Sink.Table
	if t.Namespace == "" || t.Name == "" {
		c.add("sink.table", "catalog glue needs table: {namespace, name}, the Glue database and table to register the output in")
		return
	}
	c.glueName("sink.table.namespace", "database", t.Namespace)
	c.glueName("sink.table.name", "table", t.Name)
}

// glueName checks one Glue name.
func (c *checker) glueName(key, what, name string) {
	if !glueNameRE.MatchString(name) {
		c.add(key, "%s name %q must be lowercase letters, digits or _ (a Glue name Athena reads unquoted)", what, name)
	}
}

// glueColumns checks the columns of a Glue table: the output fields,
// lower-cased, must stay distinct, and each partition key is a Glue name
// that is not an output column, since Hive keeps partition keys apart
// from the files' columns.
func (c *checker) glueColumns() {
	columns := map[string]string{}
	for _, name := range c.outputNames() {
		lower := strings.ToLower(name)
		if prev, dup := columns[lower]; dup {
			c.add(c.names[name], "fields %q and %q are one Glue column, %q: Glue column names are lowercase", prev, name, lower)
			continue
		}
		columns[lower] = name
	}
	for i, p := range c.s.Sink.PartitionBy {
		key := fmt.Sprintf("sink.partition_by[%d].key", i)
		if !glueNameRE.MatchString(p.Key) {
			c.add(key, "partition key %q must be lowercase letters, digits or _ with catalog glue: it is a Glue column", p.Key)
		} else if field, ok := columns[p.Key]; ok {
			c.add(key, "partition key %q is the output column %q: with catalog glue a partition key must differ from the columns (e.g. %s_part)", p.Key, field, p.Key)
		}
	}
}

// outputNames are the names of the output columns, in order: the fields
// not dropped, then the derived fields.
func (c *checker) outputNames() []string {
	var names []string
	for _, f := range c.s.Fields {
		if !f.Drop {
			names = append(names, f.Name)
		}
	}
	for _, d := range c.s.Derive {
		names = append(names, d.Name)
	}
	return names
}
