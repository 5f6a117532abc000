package profile_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluice-etl/sluice/shared/core/profile"
	"github.com/sluice-etl/sluice/shared/core/record"
)

var schema = &record.Schema{Fields: []record.Field{
	{Name: "id", Kind: record.Int},
	{Name: "status", Kind: record.String},
	{Name: "amount", Kind: record.Decimal, Scale: 2},
	{Name: "ratio", Kind: record.Float},
	{Name: "at", Kind: record.Timestamp},
	{Name: "day", Kind: record.Date},
	{Name: "ok", Kind: record.Bool},
}}

func ts(s string) record.Value {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return record.TimestampValue(t.UnixMicro())
}

func str(s string) record.Value { return record.StringValue([]byte(s)) }

var null = record.Value{}

// rows is known data: 5 rows, with nulls in every column but id.
var rows = [][]record.Value{
	{record.IntValue(3), str("paid"), record.DecimalValue(1250), record.FloatValue(0.5), ts("2026-11-01T10:00:00Z"), record.DateValue(20393), record.BoolValue(true)},
	{record.IntValue(-7), str("paid"), record.DecimalValue(-50), record.FloatValue(math.NaN()), ts("2026-11-03T00:00:00Z"), null, record.BoolValue(false)},
	{record.IntValue(12), str("pending"), null, record.FloatValue(2.25), ts("2026-10-30T23:59:59Z"), record.DateValue(20390), null},
	{record.IntValue(5), null, record.DecimalValue(99999), record.FloatValue(math.Inf(1)), null, record.DateValue(20400), record.BoolValue(true)},
	{record.IntValue(5), str("refunded"), record.DecimalValue(0), null, null, null, record.BoolValue(true)},
}

func profileOf(rows [][]record.Value, values bool) *profile.Profile {
	p := profile.New(schema, profile.Options{Values: values})
	for _, r := range rows {
		p.Observe(r)
	}
	return p
}

type colWant struct {
	nulls    int64
	min, max string
	distinct uint64
	top      []profile.ValueCount
}

func checkColumns(t *testing.T, p *profile.Profile, want map[string]colWant) {
	t.Helper()
	for name, w := range want {
		c := p.Column(name)
		if c == nil {
			t.Fatalf("no column %s", name)
		}
		got := colWant{c.Nulls, c.Min(), c.Max(), c.Distinct(), c.Top()}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("%s: got %+v, want %+v", name, got, w)
		}
	}
}

var knownWant = map[string]colWant{
	"id":     {0, "-7", "12", 4, nil},
	"status": {1, "", "", 3, []profile.ValueCount{{"paid", 2}, {"pending", 1}, {"refunded", 1}}},
	"amount": {1, "-0.50", "999.99", 4, nil},
	"ratio":  {1, "0.5", "2.25", 4, nil}, // NaN and +Inf count as distinct, not as bounds
	"at":     {2, "2026-10-30T23:59:59.000000Z", "2026-11-03T00:00:00.000000Z", 3, nil},
	"day":    {2, "2025-10-29", "2025-11-08", 3, nil},
	"ok":     {1, "", "", 2, nil},
}

func TestKnownData(t *testing.T) {
	p := profileOf(rows, true)
	if p.Rows != 5 {
		t.Fatalf("rows = %d", p.Rows)
	}
	checkColumns(t, p, knownWant)
	if got := p.NullShare(p.Column("at")); got != 0.4 {
		t.Errorf("null share of at = %v, want 0.4", got)
	}
}

// Without values, no column keeps top values; the statistics are the same.
func TestNoValuesByDefault(t *testing.T) {
	p := profileOf(rows, false)
	want := map[string]colWant{}
	for k, v := range knownWant {
		v.top = nil
		want[k] = v
	}
	checkColumns(t, p, want)
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"paid", "pending", "refunded"} {
		if strings.Contains(string(data), v) {
			t.Errorf("profile without values holds %q: %s", v, data)
		}
	}
}

// Profiles of parts of the rows merge into the profile of all of them,
// also after a trip through JSON, the form chunk results travel in.
func TestMergeEqualsWhole(t *testing.T) {
	for _, values := range []bool{false, true} {
		for split := range len(rows) + 1 {
			a, b := profileOf(rows[:split], values), profileOf(rows[split:], values)
			b = roundTrip(t, b)
			if err := a.Merge(b); err != nil {
				t.Fatal(err)
			}
			whole := roundTrip(t, profileOf(rows, values))
			if got, want := marshal(t, roundTrip(t, a)), marshal(t, whole); got != want {
				t.Errorf("values %v split %d:\n got %s\nwant %s", values, split, got, want)
			}
		}
	}
}

func roundTrip(t *testing.T, p *profile.Profile) *profile.Profile {
	t.Helper()
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var q profile.Profile
	if err := json.Unmarshal(data, &q); err != nil {
		t.Fatal(err)
	}
	return &q
}

// marshal is p's JSON without the sketches, whose bytes depend on the
// order of insertion (their estimates do not).
func marshal(t *testing.T, p *profile.Profile) string {
	t.Helper()
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	for _, c := range v["columns"].([]any) {
		delete(c.(map[string]any), "sketch")
	}
	out, _ := json.Marshal(v)
	return string(out)
}

func TestJSONForm(t *testing.T) {
	got := marshal(t, profileOf(rows[:1], true))
	want := `{"columns":[` +
		`{"distinct_estimate":1,"max":3,"min":3,"name":"id","nulls":0,"type":"int"},` +
		`{"distinct_estimate":1,"name":"status","nulls":0,"top":[{"count":1,"value":"paid"}],"type":"string"},` +
		`{"distinct_estimate":1,"max":12.5,"min":12.5,"name":"amount","nulls":0,"scale":2,"type":"decimal"},` +
		`{"distinct_estimate":1,"max":0.5,"min":0.5,"name":"ratio","nulls":0,"type":"float"},` +
		`{"distinct_estimate":1,"max":"2026-11-01T10:00:00.000000Z","min":"2026-11-01T10:00:00.000000Z","name":"at","nulls":0,"type":"timestamp"},` +
		`{"distinct_estimate":1,"max":"2025-11-01","min":"2025-11-01","name":"day","nulls":0,"type":"date"},` +
		`{"distinct_estimate":1,"name":"ok","nulls":0,"type":"bool"}],` +
		`"profile_version":1,"rows":1,"values":true}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// The decimal keeps its scale's digits in the file itself.
	data, _ := json.Marshal(profileOf(rows[:1], false))
	if !strings.Contains(string(data), `"min":12.50,`) {
		t.Errorf("decimal min not written as 12.50: %s", data)
	}
}

// A column with more than MaxTracked distinct values keeps none, and
// merging a high-cardinality part makes the whole high-cardinality.
func TestHighCardinality(t *testing.T) {
	one := &record.Schema{Fields: []record.Field{{Name: "s", Kind: record.String}}}
	build := func(from, to int) *profile.Profile {
		p := profile.New(one, profile.Options{Values: true})
		for i := from; i < to; i++ {
			p.Observe([]record.Value{str(fmt.Sprint("v", i%100))})
		}
		return p
	}
	if c := build(0, profile.MaxTracked).Columns[0]; c.HighCardinality || len(c.Top()) != profile.MaxTracked {
		t.Fatalf("at MaxTracked values: high %v, %d top values", c.HighCardinality, len(c.Top()))
	}
	c := build(0, profile.MaxTracked+1).Columns[0]
	if !c.HighCardinality || c.Top() != nil {
		t.Fatalf("past MaxTracked values: high %v, top %v", c.HighCardinality, c.Top())
	}
	// Two halves of MaxTracked values each are within the limit; their
	// union is not.
	a, b := build(0, 20), build(20, 40)
	if err := a.Merge(roundTrip(t, b)); err != nil {
		t.Fatal(err)
	}
	if c := a.Columns[0]; !c.HighCardinality || c.Top() != nil {
		t.Errorf("merged 40 values: high %v, top %v", c.HighCardinality, c.Top())
	}
	if c := roundTrip(t, a).Columns[0]; !c.HighCardinality {
		t.Error("high cardinality lost in JSON")
	}
}

func TestLongValuesAreClipped(t *testing.T) {
	one := &record.Schema{Fields: []record.Field{{Name: "s", Kind: record.String}}}
	p := profile.New(one, profile.Options{Values: true})
	long := strings.Repeat("a", profile.MaxValueBytes-1) + "é" + "tail"
	p.Observe([]record.Value{str(long)})
	p.Observe([]record.Value{str(long + "other tail")})
	top := p.Columns[0].Top()
	want := []profile.ValueCount{{strings.Repeat("a", profile.MaxValueBytes-1) + "…", 2}}
	if !reflect.DeepEqual(top, want) {
		t.Errorf("top = %v, want %v", top, want)
	}
	if d := p.Columns[0].Distinct(); d != 2 {
		t.Errorf("distinct = %d: the sketch sees whole values", d)
	}
}

// The distinct estimate stays within 5% (about three standard errors) at
// sizes past the sparse representation, also when merged from parts.
func TestDistinctWithinErrorBound(t *testing.T) {
	one := &record.Schema{Fields: []record.Field{{Name: "i", Kind: record.Int}, {Name: "s", Kind: record.String}}}
	for _, n := range []int{1000, 50_000, 300_000} {
		parts := []*profile.Profile{profile.New(one, profile.Options{}), profile.New(one, profile.Options{})}
		for i := range n {
			// every value twice, once in each part
			for _, p := range parts {
				p.Observe([]record.Value{record.IntValue(int64(i) * 7919), str(fmt.Sprint("user-", i))})
			}
		}
		if err := parts[0].Merge(roundTrip(t, parts[1])); err != nil {
			t.Fatal(err)
		}
		for _, c := range parts[0].Columns {
			if d := float64(c.Distinct()); math.Abs(d-float64(n))/float64(n) > 0.05 {
				t.Errorf("%d distinct %s values estimated at %v", n, c.Name, d)
			}
		}
	}
}

func TestMergeMismatch(t *testing.T) {
	other := &record.Schema{Fields: []record.Field{{Name: "x", Kind: record.Int}}}
	for _, tc := range []struct {
		name string
		o    *profile.Profile
	}{
		{"columns", profile.New(other, profile.Options{})},
		{"values", profile.New(schema, profile.Options{Values: true})},
		{"types", profile.New(&record.Schema{Fields: append([]record.Field{{Name: "id", Kind: record.String}}, schema.Fields[1:]...)}, profile.Options{})},
	} {
		err := profile.New(schema, profile.Options{}).Merge(tc.o)
		if !errors.Is(err, profile.ErrMismatch) {
			t.Errorf("%s: err = %v, want ErrMismatch", tc.name, err)
		}
	}
}

func TestBadJSON(t *testing.T) {
	data, err := json.Marshal(profileOf(rows[:1], false))
	if err != nil {
		t.Fatal(err)
	}
	good := string(data)
	for _, tc := range []struct{ name, from, to, want string }{
		{"version", `"profile_version":1`, `"profile_version":9`, "profile version 9"},
		{"type", `"type":"int"`, `"type":"uuid"`, `unknown type "uuid"`},
		{"decimal digits", `"min":12.50`, `"min":12.5`, "want 2 digits"},
		{"half bound", `"min":3,"max":3,`, `"min":3,`, "both be present"},
		{"bool bound", `"type":"bool","nulls":0`, `"type":"bool","nulls":0,"min":1,"max":1`, "a bool column has no min"},
		{"sketch", `"sketch":"`, `"sketch":"AAAA`, "sketch"},
		{"null column", `"columns":[`, `"columns":[null,`, "column 0 is null"},
	} {
		bad := strings.Replace(good, tc.from, tc.to, 1)
		if bad == good {
			t.Fatalf("%s: %q not in %s", tc.name, tc.from, good)
		}
		var p profile.Profile
		err := json.Unmarshal([]byte(bad), &p)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}
