package icebergtable

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/sluice-etl/sluice/shared/core/codec"
)

// Schema evolution. A table sluice made from one version of a spec meets
// the output of the next: Prepare compares them column by column, by
// name, and either changes the table in one schema update before any of
// the run's data is written, or refuses the spec, naming the columns.
//
// Applied:
//   - a column the spec adds is added at the end of the table, optional;
//     required only while the table has no rows;
//   - an int column becomes long, a float double, a decimal(P, S) a
//     decimal(18, S) with P < 18: the type the spec writes (Iceberg's
//     type promotions);
//   - a required column the spec no longer writes, or no longer
//     requires, becomes optional. A column the spec no longer writes
//     stays in the table: the files of later runs lack it, and readers
//     read null for it.
//
// Refused (IncompatibleError):
//   - any other type change: a narrower type (decimal(38, 2) to
//     decimal(18, 2)) or another one (string to long, double to long);
//   - a required column new to a table that has rows, which have no value
//     for it;
//   - another partition spec.
//
// Columns keep their field ids: a renamed field is a column no longer
// written and a new one. The data files must carry the table's ids
// (FieldIDs); a writer that gives each column its position instead (the
// AWS functions, the stream path) gets a table whose ids are positions
// only, which Options.TableFieldIDs says.

// ChangeKind is what an evolution does to one column.
type ChangeKind string

// The changes Prepare applies, and the column it keeps as it is.
const (
	// AddColumn adds a column the spec's output has and the table lacks.
	AddColumn ChangeKind = "add"
	// WidenColumn promotes a column to the wider type the spec writes.
	WidenColumn ChangeKind = "widen"
	// MakeOptional makes a required column optional.
	MakeOptional ChangeKind = "make-optional"
	// KeepColumn is an optional column the spec no longer writes: the
	// table keeps it, and rows of later runs have no value for it. Nothing
	// changes.
	KeepColumn ChangeKind = "keep"
)

// Change is one column's change.
type Change struct {
	Kind   ChangeKind `json:"kind"`
	Column string     `json:"column"`
	// From and To are the column's type before and after (widen), or its
	// type (add).
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Required is whether an added column is required.
	Required bool `json:"required,omitempty"`
	// Dropped says a column is no longer in the spec's output (make
	// optional, keep); else the spec no longer requires it.
	Dropped bool `json:"dropped,omitempty"`
}

func (c Change) String() string {
	switch c.Kind {
	case AddColumn:
		return fmt.Sprintf("add column %s (%s, %s)", c.Column, c.To, requiredWord(c.Required))
	case WidenColumn:
		return fmt.Sprintf("widen column %s from %s to %s", c.Column, c.From, c.To)
	case MakeOptional:
		if c.Dropped {
			return fmt.Sprintf("make column %s optional: the spec no longer writes it", c.Column)
		}
		return fmt.Sprintf("make column %s optional: the spec no longer requires it", c.Column)
	}
	return fmt.Sprintf("keep column %s: the spec no longer writes it, so new rows have no value for it", c.Column)
}

// Evolution is how an existing table takes a spec's output: the changes
// one schema update makes, and those refused.
type Evolution struct {
	Table string `json:"table"`
	// Exists is false when the table is to be created from the spec.
	Exists bool `json:"exists"`
	// SchemaID is the table's current schema id.
	SchemaID int      `json:"schema_id"`
	Changes  []Change `json:"changes"`
	Refused  []string `json:"refused"`
	// Positional is why a writer that gives each column its position as
	// its field id cannot write the evolved table (the AWS functions and
	// the stream path), or "": refused unless Options.TableFieldIDs.
	Positional string `json:"positional,omitempty"`
}

// Updates reports whether the evolution changes the table's schema.
func (ev *Evolution) Updates() bool {
	for _, c := range ev.Changes {
		if c.Kind != KeepColumn {
			return true
		}
	}
	return false
}

// Err is an IncompatibleError listing the refused changes, or nil.
func (ev *Evolution) Err() error {
	if len(ev.Refused) == 0 {
		return nil
	}
	return &IncompatibleError{Table: ev.Table, Columns: ev.Refused}
}

// evolution plans how a table of schema have (with lastColumnID, the
// last field id it ever gave, and rows or not) takes the output schema
// want. With positional, the data files give each column its position
// plus one as its field id, so the table's ids must be those.
type evolution struct {
	have, want   *iceberg.Schema
	lastColumnID int
	hasRows      bool
	positional   bool
	ev           *Evolution
}

func (e *evolution) plan() *Evolution {
	next := e.lastColumnID
	var moved []string
	for i, w := range e.want.Fields() {
		id := 0
		if h, ok := e.have.FindFieldByName(w.Name); ok {
			id = h.ID
			e.existing(h, w)
		} else {
			next++
			id = next
			e.added(w)
		}
		if id != codec.IcebergFieldID(i) {
			moved = append(moved, fmt.Sprintf("%s (%d in the table, %d in the files)", w.Name, id, codec.IcebergFieldID(i)))
		}
	}
	if len(moved) > 0 {
		e.ev.Positional = fmt.Sprintf("field ids of columns %s: this run's files give each column its position in the spec's output as its field id, "+
			"as the AWS functions and the stream path write them; keep the table's columns in their order with new ones at the end, "+
			"or run the spec with sluice run, which writes the table's ids", strings.Join(moved, ", "))
		if e.positional {
			e.ev.Refused = append(e.ev.Refused, e.ev.Positional)
		}
	}
	for _, h := range e.have.Fields() {
		if _, ok := e.want.FindFieldByName(h.Name); !ok {
			kind := KeepColumn
			if h.Required {
				kind = MakeOptional
			}
			e.change(Change{Kind: kind, Column: h.Name, Dropped: true})
		}
	}
	return e.ev
}

// existing compares a column the table has with the spec's.
func (e *evolution) existing(h, w iceberg.NestedField) {
	switch {
	case h.Type.Equals(w.Type):
	case widens(h.Type, w.Type):
		e.change(Change{Kind: WidenColumn, Column: w.Name, From: h.Type.String(), To: w.Type.String()})
	default:
		e.refuse("column %s is %s in the table, %s in the spec: Iceberg changes a column's type only from int to long, "+
			"from float to double, or from decimal(P, S) to a larger precision with the same scale", w.Name, h.Type, w.Type)
	}
	if h.Required && !w.Required {
		e.change(Change{Kind: MakeOptional, Column: w.Name})
	}
}

// added plans a column new to the table.
func (e *evolution) added(w iceberg.NestedField) {
	if w.Required && e.hasRows {
		e.refuse("column %s is required in the spec and new to the table, whose rows have no value for it: "+
			"Iceberg adds a required column only to an empty table (drop required: true to add it optional)", w.Name)
		return
	}
	e.change(Change{Kind: AddColumn, Column: w.Name, To: w.Type.String(), Required: w.Required})
}

func (e *evolution) change(c Change) { e.ev.Changes = append(e.ev.Changes, c) }

func (e *evolution) refuse(format string, args ...any) {
	e.ev.Refused = append(e.ev.Refused, fmt.Sprintf(format, args...))
}

// widens reports whether Iceberg promotes a column of type from to type
// to: int to long, float to double, decimal(P, S) to decimal(P', S) with
// P' > P.
func widens(from, to iceberg.Type) bool {
	switch f := from.(type) {
	case iceberg.Int32Type:
		_, ok := to.(iceberg.Int64Type)
		return ok
	case iceberg.Float32Type:
		_, ok := to.(iceberg.Float64Type)
		return ok
	case iceberg.DecimalType:
		t, ok := to.(iceberg.DecimalType)
		return ok && t.Scale() == f.Scale() && t.Precision() > f.Precision()
	}
	return false
}

// Plan is what Prepare would do to the table: nothing to an existing
// table with the spec's schema, create a missing one (Exists false), or
// the changes of an evolution and the refused ones. It changes nothing.
func (t *Table) Plan(ctx context.Context) (*Evolution, error) {
	tbl, err := t.cat.LoadTable(ctx, t.ident)
	if isNoSuchTable(err) {
		return &Evolution{Table: t.name}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", t.name, err)
	}
	return t.plan(ctx, tbl)
}

// plan compares the table with the spec's output and partition spec.
func (t *Table) plan(ctx context.Context, tbl *table.Table) (*Evolution, error) {
	rows, err := hasRows(ctx, tbl)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", t.name, err)
	}
	sc := tbl.Schema()
	e := &evolution{have: sc, want: t.schema, lastColumnID: tbl.Metadata().LastColumnID(), hasRows: rows,
		positional: !t.opt.TableFieldIDs, ev: &Evolution{Table: t.name, Exists: true, SchemaID: sc.ID}}
	ev := e.plan()
	for _, d := range diffSpecs(tbl.Spec(), sc, t.spec, t.schema) {
		ev.Refused = append(ev.Refused, d+": a table's partition spec is never changed")
	}
	return ev, nil
}

// hasRows reports whether the table's current snapshot holds rows.
func hasRows(ctx context.Context, tbl *table.Table) (bool, error) {
	cur := tbl.CurrentSnapshot()
	if cur == nil {
		return false, nil
	}
	if cur.Summary != nil {
		if n, err := strconv.ParseInt(cur.Summary.Properties["total-records"], 10, 64); err == nil {
			return n > 0, nil
		}
	}
	files, err := LiveFiles(ctx, tbl)
	for _, f := range files {
		if f.Count() > 0 {
			return true, err
		}
	}
	return false, err
}

// evolve applies ev's changes to the table in one schema update, and
// returns the table after it. The update is refused if another one
// landed first; one that adds a required column is refused if rows
// landed first too.
func (t *Table) evolve(ctx context.Context, tbl *table.Table, ev *Evolution) (*table.Table, error) {
	txn := tbl.NewTransaction()
	addsRequired := false
	for _, c := range ev.Changes {
		addsRequired = addsRequired || (c.Kind == AddColumn && c.Required)
	}
	if addsRequired {
		// The table had no rows when the plan was made: keep it so.
		if err := txn.AssertRefSnapshotID(""); err != nil {
			return nil, fmt.Errorf("table %s: %w", t.name, err)
		}
	}
	var opts []table.UpdateSchemaOption
	if nm := tbl.Metadata().NameMapping(); nm != nil {
		opts = append(opts, table.WithNameMapping(nm))
	}
	// Incompatible changes are allowed for a required column added to an
	// empty table only: plan refused every other one.
	us := txn.UpdateSchema(true, addsRequired, opts...)
	for _, c := range ev.Changes {
		path := []string{c.Column}
		switch c.Kind {
		case AddColumn:
			f, _ := t.schema.FindFieldByName(c.Column)
			us.AddColumn(path, f.Type, "", c.Required, nil)
		case WidenColumn:
			f, _ := t.schema.FindFieldByName(c.Column)
			us.UpdateColumn(path, table.ColumnUpdate{FieldType: iceberg.Optional[iceberg.Type]{Valid: true, Val: f.Type}})
		case MakeOptional:
			us.UpdateColumn(path, table.ColumnUpdate{Required: iceberg.Optional[bool]{Valid: true, Val: false}})
		}
	}
	if err := us.Commit(); err != nil {
		return nil, fmt.Errorf("table %s: stage the schema update (%s): %w", t.name, describeChanges(ev.Changes), err)
	}
	updated, err := txn.Commit(ctx)
	if err != nil {
		return nil, fmt.Errorf("table %s: commit the schema update (%s): %w", t.name, describeChanges(ev.Changes), err)
	}
	return updated, nil
}

func describeChanges(cs []Change) string {
	var out []string
	for _, c := range cs {
		if c.Kind != KeepColumn {
			out = append(out, c.String())
		}
	}
	return strings.Join(out, "; ")
}

// fieldIDs are the ids sc gives the columns of the output schema out,
// in out's order.
func fieldIDs(sc, out *iceberg.Schema) ([]int, error) {
	ids := make([]int, 0, len(out.Fields()))
	for _, f := range out.Fields() {
		h, ok := sc.FindFieldByName(f.Name)
		if !ok {
			return nil, fmt.Errorf("column %s is not in the table's schema %d", f.Name, sc.ID)
		}
		ids = append(ids, h.ID)
	}
	return ids, nil
}

// positional reports whether sc gives each column of out its position
// plus one as its id: the ids of data files written without the table's
// ids.
func positional(sc, out *iceberg.Schema) bool {
	for i, f := range out.Fields() {
		if h, ok := sc.FindFieldByName(f.Name); !ok || h.ID != codec.IcebergFieldID(i) {
			return false
		}
	}
	return true
}
