package infer_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-etl/sluice/shared/core/infer"
)

// inferCSV infers a spec from CSV text.
func inferCSV(t *testing.T, csv string, optFns ...func(*infer.Options)) *infer.Result {
	t.Helper()
	s, err := infer.ReadSample(strings.NewReader(csv), "sample.csv")
	if err != nil {
		t.Fatal(err)
	}
	r, err := infer.Infer(s, optFns...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// column is a CSV of one column, name, holding vals.
func column(name string, vals ...string) string {
	return name + "\n" + strings.Join(vals, "\n") + "\n"
}

func repeat(v string, n int) []string { return slices.Repeat([]string{v}, n) }

// fieldCase is one column and the field inferred from it.
type fieldCase struct {
	name     string
	csv      string
	tol      float64 // 0: the default
	typ      string
	scale    int
	layouts  []string
	misfits  int
	listed   []string
	required bool
	trim     bool
}

var fieldCases = []fieldCase{
	{name: "ints", csv: column("n", "1", "-2", "+3", "40"), typ: "int", required: true},
	{name: "leading zeros stay text", csv: column("zip", "02134", "10001", "94103"), typ: "string", required: true},
	{name: "decimals at the scale written", csv: column("p", "1.50", "2.25", "3.00", "4"), typ: "decimal", scale: 2, required: true},
	{name: "the smallest scale that fits", csv: column("p", "1.5", "2.25"), typ: "decimal", scale: 2, required: true},
	{name: "an exponent is a float", csv: column("x", "1.5", "2e3", "-0.25"), typ: "float", required: true},
	{name: "more places than a decimal keeps", csv: column("x", "0.1234567891", "1.5"), typ: "float", required: true},
	{name: "booleans", csv: column("ok", "yes", "no", "Y", "false"), typ: "bool", required: true},
	{name: "0 and 1 are integers", csv: column("ok", "0", "1", "1"), typ: "int", required: true},
	{name: "dates", csv: column("day", "2026-01-02", "2026-01-03"), typ: "date", layouts: []string{"2006-01-02"}, required: true},
	{name: "slash dates", csv: column("day", "2026/01/02", "2026/12/31"), typ: "date", layouts: []string{"2006/01/02"}, required: true},
	{name: "timestamps take each value's first layout", csv: column("at", "2026-01-02T03:04:05Z", "2026-01-02 03:04:05", "2026-01-02", `"Mon, 02 Jan 2026 15:04:05 -0700"`),
		typ: "timestamp", layouts: []string{"2006-01-02T15:04:05.999999999Z07:00", "2006-01-02 15:04:05", "2006-01-02", "Mon, 02 Jan 2006 15:04:05 -0700"}, required: true},
	{name: "unix seconds by name and range", csv: column("created_at", "1767225600", "1767229200"), typ: "timestamp", layouts: []string{"unix"}, required: true},
	{name: "unix milliseconds", csv: column("ts", "1767225600000", "1767225601500"), typ: "timestamp", layouts: []string{"unix_ms"}, required: true},
	{name: "times by range but not by name", csv: column("amount", "1767225600", "1767229200"), typ: "int", required: true},
	{name: "a time name out of range", csv: column("ts", "12", "13"), typ: "int", required: true},
	{name: "empty values", csv: "n,x\n1,a\n,b\n3,c\n", typ: "int"},
	{name: "all empty", csv: "n,x\n,a\n,b\n", typ: "string"},
	{name: "padding is trimmed", csv: column("n", " 1", "2 ", "3"), typ: "int", required: true, trim: true},
	{name: "a value of spaces is empty once trimmed", csv: column("s", " a", "   ", "b"), typ: "string", trim: true},
	{name: "one misfit in twenty is tolerated", csv: column("n", append(repeat("7", 19), "n/a")...), typ: "int", misfits: 1, listed: []string{"n/a"}, required: true},
	{name: "two in twenty are not", csv: column("n", append(repeat("7", 18), "n/a", "-")...), typ: "string", required: true},
	{name: "tolerance 0", csv: column("n", append(repeat("7", 19), "n/a")...), tol: -1, typ: "string", required: true},
	{name: "tolerance 0.5", csv: column("n", "1", "x", "y", "2"), tol: 0.5, typ: "int", misfits: 2, listed: []string{"x", "y"}, required: true},
	{name: "at most five distinct misfits listed", csv: column("n", append(repeat("7", 60), "a", "b", "a", "c", "d", "e", "f")...), tol: 0.2,
		typ: "int", misfits: 7, listed: []string{"a", "b", "c", "d", "e"}, required: true},
}

func TestInferField(t *testing.T) {
	for _, c := range fieldCases {
		t.Run(c.name, func(t *testing.T) {
			r := inferCSV(t, c.csv, func(o *infer.Options) {
				switch {
				case c.tol < 0:
					o.Tolerance = 0
				case c.tol > 0:
					o.Tolerance = c.tol
				}
			})
			f := r.Fields[0]
			got := fmt.Sprintf("%s scale %d layouts %q misfits %d %q required %v trim %v", f.Type, f.Scale, f.Layouts, f.Misfits, f.MisfitValues, f.Required, len(f.Clean) > 0)
			want := fmt.Sprintf("%s scale %d layouts %q misfits %d %q required %v trim %v", c.typ, c.scale, c.layouts, c.misfits, c.listed, c.required, c.trim)
			if got != want {
				t.Errorf("field = %s\nwant    %s", got, want)
			}
			if r.Counts.Rejected != c.misfits || r.Counts.RejectedByRule[f.Name+".type"] != c.misfits {
				t.Errorf("counts = %+v, want %d rejected under %s.type", r.Counts, c.misfits, f.Name)
			}
		})
	}
}

// JSON values keep their kinds: booleans are bool, numbers written as
// 1.0 are integers, objects and arrays only fit a string, and a key
// absent from some objects is not required.
func TestInferJSONKinds(t *testing.T) {
	in := `{"b": true, "n": 1, "o": {"x": 1}, "s": "a"}
{"b": false, "n": 2.0, "o": [1], "s": null}
{"b": true, "n": 3, "o": null}
`
	s, err := infer.ReadSample(strings.NewReader(in), "x.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	r, err := infer.Infer(s)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range r.Fields {
		got = append(got, fmt.Sprintf("%s %s %v", f.Name, f.Type, f.Required))
	}
	want := []string{"b bool true", "n int true", "o string false", "s string false"}
	if !slices.Equal(got, want) {
		t.Errorf("fields = %q, want %q", got, want)
	}
}

// Values listed in comments are cut short and escaped, so a comment
// stays one line whatever the record holds; the spec still loads.
func TestMisfitsInComments(t *testing.T) {
	long := strings.Repeat("x", 40)
	vals := append(repeat("1", 40), `"a
b"`, `"# not a key: 1"`, long)
	r := inferCSV(t, column("n", vals...), func(o *infer.Options) { o.Tolerance = 0.1 })
	want := `    #   "a\nb", "# not a key: 1", "` + strings.Repeat("x", 24) + `..."` + "\n"
	if !strings.Contains(string(r.Doc), want) {
		t.Errorf("spec lacks %q:\n%s", want, r.Doc)
	}
	if strings.Contains(string(r.Doc), "null_if") {
		t.Errorf("a value with a line break is offered as null_if:\n%s", r.Doc)
	}
}

// An id column whose values repeat beyond the tolerance is not offered
// as the dedup key; one that repeats within it is, with the count.
func TestDedupSuggestion(t *testing.T) {
	ids := make([]string, 40)
	for i := range ids {
		ids[i] = fmt.Sprint(i)
	}
	r := inferCSV(t, column("order_id", append(ids, "1")...))
	if r.Dedup != "order_id" || r.Repeats != 1 || !strings.Contains(string(r.Doc), "# order_id looks like an id (1 value repeated in the sample)") {
		t.Errorf("dedup %q repeats %d:\n%s", r.Dedup, r.Repeats, r.Doc)
	}
	r = inferCSV(t, column("order_id", append(ids, repeat("1", 5)...)...))
	if r.Dedup != "" || strings.Contains(string(r.Doc), "dedup") {
		t.Errorf("dedup %q:\n%s", r.Dedup, r.Doc)
	}
	r = inferCSV(t, column("email", ids...))
	if r.Dedup != "" {
		t.Errorf("a unique column not named as an id is offered as the dedup key: %q", r.Dedup)
	}
}

// An enum is offered for a few short values, each repeated; not for
// many values, nor for few.
func TestEnumSuggestion(t *testing.T) {
	cases := []struct {
		vals []string
		enum []string
	}{
		{append(repeat("b", 6), repeat("a", 6)...), []string{"a", "b"}},
		{[]string{"a", "b", "a", "b"}, nil},                                              // too few values
		{[]string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "a", "b"}, nil},      // too many distinct for their number
		{append(repeat("b", 10), repeat(strings.Repeat("a", 33), 10)...), nil},           // too long
		{append(repeat("a", 20), "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"), nil}, // eleven distinct
	}
	for i, c := range cases {
		r := inferCSV(t, column("s", c.vals...))
		if !slices.Equal(r.Fields[0].Enum, c.enum) {
			t.Errorf("case %d: enum %q, want %q", i, r.Fields[0].Enum, c.enum)
		}
	}
}

func TestInferTolerance(t *testing.T) {
	s, err := infer.ReadSample(strings.NewReader("a\n1\n"), "x.csv")
	if err != nil {
		t.Fatal(err)
	}
	for _, tol := range []float64{-0.1, 1.5} {
		_, err := infer.Infer(s, func(o *infer.Options) { o.Tolerance = tol })
		if !errors.Is(err, infer.ErrTolerance) || err.Error() != fmt.Sprintf("tolerance must be from 0 to 1, not %v", tol) {
			t.Errorf("tolerance %v: %v", tol, err)
		}
	}
}

func TestFieldNames(t *testing.T) {
	in := "id,Order ID,Unit Price ($),2nd,Prénom,a b,a-b,a_b,名前,__x__,createdAt\n" + strings.Repeat("1,", 10) + "1\n"
	r := inferCSV(t, in)
	var got []string
	for _, f := range r.Fields {
		got = append(got, f.Name+"<"+f.From)
	}
	want := []string{"id<", "order_id<Order ID", "unit_price<Unit Price ($)", "_2nd<2nd", "prenom<Prénom", "a_b_2<a b", "a_b_3<a-b",
		"a_b<", "column_9<名前", "__x__<", "createdAt<"}
	if !slices.Equal(got, want) {
		t.Errorf("names = %q\nwant    %q", got, want)
	}
}
