package gluecatalog

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"
)

// Schema evolution of a registered table, by the rule of the iceberg
// sink's tables: when the spec's output changes, the table's columns
// change by
//   - adding the spec's new columns after the table's;
//   - keeping a column the spec no longer writes, where it is: the files
//     of later runs lack it, and Athena reads null for it;
//   - widening a column to the type the spec writes: tinyint, smallint
//     or int to a wider integer, float to double, decimal(P, S) to a
//     larger precision with the same scale;
//
// and refuses any other type change (narrower or incompatible), naming
// the column. Parquet files are read by column name; JSON by key; CSV by
// position, so a csv table also refuses a spec whose columns are not the
// table's in order, new ones after them: a column no longer written may
// only be among the last. A widening on an unpartitioned Parquet table
// is refused: Athena reads every file of such a table with the table's
// type, and the older files hold the narrower one.
//
// Partitions added later carry the table's storage descriptor after the
// change, so their columns are the table's; partitions added before keep
// theirs. Athena checks each partition's columns against the table's
// (by name for Parquet, by position for JSON and CSV), and since the
// table's columns only grow at the end or widen, an older partition's
// columns are the first of the table's, with compatible types: no
// HIVE_PARTITION_SCHEMA_MISMATCH.

// Evolution is how an existing Glue table takes the spec's output: the
// changes one UpdateTable makes, and those refused.
type Evolution struct {
	Table string `json:"table"`
	// Exists is false when the table is to be created from the spec.
	Exists bool `json:"exists"`
	// Changes are the column changes, in words ("add column x (bigint)");
	// Update is whether the table needs an UpdateTable at all, for them
	// or for its storage, SerDe or parameters.
	Changes []string `json:"changes"`
	Update  bool     `json:"update"`
	Refused []string `json:"refused"`
	// columns are the table's columns after the change.
	columns []types.Column
}

// Err is an IncompatibleError listing the refused changes, or nil.
func (ev *Evolution) Err() error {
	if len(ev.Refused) == 0 {
		return nil
	}
	return &IncompatibleError{Table: ev.Table, Diffs: ev.Refused}
}

// Plan is what Register would do to the table: create it (Exists
// false), update it, or refuse the spec. It changes nothing.
func (c *Catalog) Plan(ctx context.Context) (*Evolution, error) {
	have, err := c.getTable(ctx)
	if err != nil {
		return nil, c.wrap(err)
	}
	if have == nil {
		return &Evolution{Table: c.Table()}, nil
	}
	return c.evolution(have), nil
}

// evolution compares the table with the spec's output.
func (c *Catalog) evolution(have *types.Table) *Evolution {
	ev := &Evolution{Table: c.Table(), Exists: true, Refused: c.incompatible(have)}
	var cols []types.Column
	if have.StorageDescriptor != nil {
		cols = have.StorageDescriptor.Columns
	}
	e := &columnEvolution{ev: ev, csv: c.csv(), partitioned: len(c.partitionKey) > 0, parquet: c.parquet()}
	ev.columns = e.merge(cols, c.want.StorageDescriptor.Columns)
	ev.Update = len(ev.Refused) == 0 && !c.current(have, ev.columns)
	return ev
}

func (c *Catalog) csv() bool {
	return aws.ToString(c.want.StorageDescriptor.SerdeInfo.SerializationLibrary) == CSVSerDe
}

func (c *Catalog) parquet() bool {
	return aws.ToString(c.want.StorageDescriptor.SerdeInfo.SerializationLibrary) == ParquetSerDe
}

// columnEvolution merges the table's columns with the spec's.
type columnEvolution struct {
	ev                        *Evolution
	csv, partitioned, parquet bool
}

// merge returns the table's columns after the change: each of the
// table's columns in place, as the spec has it if the spec writes it,
// then the spec's new columns.
func (e *columnEvolution) merge(have, want []types.Column) []types.Column {
	merged := make([]types.Column, len(have))
	copy(merged, have)
	at := map[string]int{}
	for i, h := range have {
		at[strings.ToLower(aws.ToString(h.Name))] = i
	}
	written := map[string]bool{}
	for _, w := range want {
		name := aws.ToString(w.Name)
		written[name] = true
		i, ok := at[name]
		if !ok {
			merged = append(merged, w)
			e.ev.Changes = append(e.ev.Changes, fmt.Sprintf("add column %s (%s)", name, hiveTypeOf(w)))
			continue
		}
		if e.existing(have[i], w) {
			merged[i] = w
		}
	}
	for _, h := range have {
		if name := strings.ToLower(aws.ToString(h.Name)); !written[name] {
			e.ev.Changes = append(e.ev.Changes, fmt.Sprintf("keep column %s: the spec no longer writes it, so new rows have no value for it", name))
		}
	}
	if e.csv {
		e.checkPositions(merged, want)
	}
	return merged
}

// existing compares a column the table has with the spec's, and reports
// whether the spec's replaces it.
func (e *columnEvolution) existing(h, w types.Column) bool {
	name, ht, wt := aws.ToString(w.Name), hiveTypeOf(h), hiveTypeOf(w)
	switch {
	case ht == wt:
		return true
	case !widens(ht, wt):
		e.refuse("column %s is %s in the table, %s in the spec: a column's type changes only to a wider one "+
			"(tinyint, smallint or int to a wider integer, float to double, decimal(P,S) to a larger precision with the same scale)", name, ht, wt)
	case e.parquet && !e.partitioned:
		e.refuse("column %s is %s in the table, %s in the spec: Athena reads every Parquet file of an unpartitioned table "+
			"with the table's type, and the files written so far hold %s", name, ht, wt, ht)
	default:
		e.ev.Changes = append(e.ev.Changes, fmt.Sprintf("widen column %s from %s to %s", name, ht, wt))
		return true
	}
	return false
}

// checkPositions refuses a csv spec whose columns are not the first of
// the table's, in order: Athena reads CSV by position.
func (e *columnEvolution) checkPositions(merged, want []types.Column) {
	for i, w := range want {
		if got := aws.ToString(merged[i].Name); got != aws.ToString(w.Name) {
			e.refuse("column %d of the csv files would be %s, and the table's column %d is %s: Athena reads CSV by position, "+
				"so keep the table's columns in order, add new ones at the end and stop writing only the last ones", i+1, aws.ToString(w.Name), i+1, got)
			return
		}
	}
}

func (e *columnEvolution) refuse(format string, args ...any) {
	e.ev.Refused = append(e.ev.Refused, fmt.Sprintf(format, args...))
}

// hiveTypeOf is a column's Hive type: its type, or for a string column
// whose comment is a Hive type (sluice's csv columns), the comment.
func hiveTypeOf(col types.Column) string {
	t := normalType(aws.ToString(col.Type))
	if c := normalType(aws.ToString(col.Comment)); t == "string" && c != "" && isHiveType(c) {
		return c
	}
	return t
}

// normalType is a Hive type in lower case without spaces.
func normalType(t string) string { return strings.ToLower(strings.ReplaceAll(t, " ", "")) }

var decimalType = regexp.MustCompile(`^decimal\((\d+),(\d+)\)$`)

func isHiveType(t string) bool {
	switch t {
	case "string", "tinyint", "smallint", "int", "bigint", "float", "double", "boolean", "timestamp", "date":
		return true
	}
	return decimalType.MatchString(t)
}

// integerRank orders Hive's integer types by width.
var integerRank = map[string]int{"tinyint": 1, "smallint": 2, "int": 3, "bigint": 4}

// widens reports whether a column of Hive type from may become type to:
// a wider integer, float to double, a decimal of the same scale and a
// larger precision. The types are normalType's.
func widens(from, to string) bool {
	if rf, rt := integerRank[from], integerRank[to]; rf > 0 && rt > 0 {
		return rt > rf
	}
	if from == "float" && to == "double" {
		return true
	}
	f, t := decimalType.FindStringSubmatch(from), decimalType.FindStringSubmatch(to)
	if f == nil || t == nil || f[2] != t[2] {
		return false
	}
	pf, _ := strconv.Atoi(f[1])
	pt, _ := strconv.Atoi(t[1])
	return pt > pf
}
