package icebergtable

import (
	"fmt"
	"strings"

	"github.com/apache/iceberg-go"

	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/record"
	"github.com/sluice-etl/sluice/shared/core/spec"
	"github.com/sluice-etl/sluice/shared/pipeline/output"
)

// partitionFieldBase is the first partition field id, as Iceberg numbers
// them.
const partitionFieldBase = 1000

// Schema is the Iceberg schema of a spec's output, which a new table is
// created with: its columns in output order with ids from
// codec.IcebergFieldID, string, long, double, decimal(18, scale),
// boolean, timestamptz and date, and the spec's required fields
// required. An existing table is compared with it by column name.
func Schema(sp *spec.Spec, out *record.Schema) (*iceberg.Schema, error) {
	req := output.RequiredColumns(sp, out)
	fields := make([]iceberg.NestedField, len(out.Fields))
	for i, f := range out.Fields {
		var t iceberg.Type
		switch f.Kind {
		case record.String:
			t = iceberg.PrimitiveTypes.String
		case record.Int:
			t = iceberg.PrimitiveTypes.Int64
		case record.Float:
			t = iceberg.PrimitiveTypes.Float64
		case record.Decimal:
			t = iceberg.DecimalTypeOf(18, f.Scale)
		case record.Bool:
			t = iceberg.PrimitiveTypes.Bool
		case record.Timestamp:
			t = iceberg.PrimitiveTypes.TimestampTz
		case record.Date:
			t = iceberg.PrimitiveTypes.Date
		default:
			return nil, fmt.Errorf("field %q: no Iceberg type for %s", f.Name, f.Kind)
		}
		fields[i] = iceberg.NestedField{ID: codec.IcebergFieldID(i), Name: f.Name, Type: t, Required: req[i]}
	}
	return iceberg.NewSchema(0, fields...), nil
}

// PartitionSpec is the Iceberg partition spec of a spec's partition_by:
// one field per level, named by its key, with the level's transform.
func PartitionSpec(sp *spec.Spec, sc *iceberg.Schema) (iceberg.PartitionSpec, error) {
	var fields []iceberg.PartitionField
	for i, p := range sp.Sink.PartitionBy {
		src, ok := sc.FindFieldByName(p.Field)
		if !ok {
			return iceberg.PartitionSpec{}, fmt.Errorf("sink.partition_by[%d]: field %q is not a column of the table (a dropped field cannot partition an iceberg table)", i, p.Field)
		}
		var tr iceberg.Transform
		switch p.Transform {
		case spec.TransformHour:
			tr = iceberg.HourTransform{}
		case spec.TransformDay:
			tr = iceberg.DayTransform{}
		case spec.TransformMonth:
			tr = iceberg.MonthTransform{}
		default:
			tr = iceberg.IdentityTransform{}
		}
		fields = append(fields, iceberg.PartitionField{SourceIDs: []int{src.ID}, FieldID: partitionFieldBase + i, Name: p.Key, Transform: tr})
	}
	return iceberg.NewPartitionSpec(fields...), nil
}

// IncompatibleError says an existing table cannot take the spec's
// output: a type it cannot widen to, a required column it cannot add,
// another partition spec. Nothing was written.
type IncompatibleError struct {
	Table string
	// Columns are the refused changes, one per column or partition spec.
	Columns []string
}

func (e *IncompatibleError) Error() string {
	return fmt.Sprintf("table %s cannot take the spec's output: %s", e.Table, strings.Join(e.Columns, "; "))
}

func requiredWord(req bool) string {
	if req {
		return "required"
	}
	return "optional"
}

// diffSpecs lists how the table's partition fields differ from the wanted
// ones; source columns are compared by name.
func diffSpecs(have iceberg.PartitionSpec, haveSc *iceberg.Schema, want iceberg.PartitionSpec, wantSc *iceberg.Schema) []string {
	describe := func(ps iceberg.PartitionSpec, sc *iceberg.Schema) []string {
		var out []string
		for _, f := range ps.Fields() {
			src, _ := sc.FindColumnName(f.SourceID())
			out = append(out, fmt.Sprintf("%s=%s(%s)", f.Name, f.Transform, src))
		}
		return out
	}
	h, w := describe(have, haveSc), describe(want, wantSc)
	if strings.Join(h, ",") == strings.Join(w, ",") {
		return nil
	}
	return []string{fmt.Sprintf("partitioned by [%s] in the table, [%s] in the spec", strings.Join(h, ", "), strings.Join(w, ", "))}
}
