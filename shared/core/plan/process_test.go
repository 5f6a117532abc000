package plan_test

import (
	"errors"
	"math"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/core/record"
)

// Raw fields as the decoders produce them.
func str(s string) codec.RawField   { return codec.RawField{Kind: codec.RawString, Bytes: []byte(s)} }
func num(s string) codec.RawField   { return codec.RawField{Kind: codec.RawNumber, Bytes: []byte(s)} }
func jbool(s string) codec.RawField { return codec.RawField{Kind: codec.RawBool, Bytes: []byte(s)} }
func jraw(s string) codec.RawField  { return codec.RawField{Kind: codec.RawJSON, Bytes: []byte(s)} }

var (
	missing = codec.RawField{Kind: codec.RawMissing}
	jnull   = codec.RawField{Kind: codec.RawNull}
)

// Values.
func S(s string) record.Value  { return record.StringValue([]byte(s)) }
func I(i int64) record.Value   { return record.IntValue(i) }
func F(f float64) record.Value { return record.FloatValue(f) }
func D(u int64) record.Value   { return record.DecimalValue(u) }
func B(b bool) record.Value    { return record.BoolValue(b) }

// FT is a float that keeps the text it was parsed from.
func FT(f float64, text string) record.Value {
	v := record.FloatValue(f)
	v.Bytes = []byte(text)
	return v
}

// TS is a timestamp value.
func TS(t time.Time) record.Value { return record.TimestampValue(t.UnixMicro()) }

// DT is a date value.
func DT(y int, m time.Month, d int) record.Value {
	return record.DateValue(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

var null = record.Value{}

func utc(y int, m time.Month, d, h, min, s, ns int) time.Time {
	return time.Date(y, m, d, h, min, s, ns, time.UTC)
}

func compile(t *testing.T, src string) *plan.Plan {
	t.Helper()
	p, err := plan.FromBytes("t.yaml", []byte(src))
	if err != nil {
		t.Fatalf("compile:\n%s\n%v", src, err)
	}
	return p
}

func rec(fields ...codec.RawField) *codec.RawRecord { return &codec.RawRecord{Fields: fields} }

// want is an expected Outcome. reason is exact, unless it ends in "...",
// when it is a prefix.
type want struct {
	verdict plan.Verdict
	field   string
	rule    string
	reason  string
	filter  string
	row     []record.Value
}

func keep(row ...record.Value) want { return want{verdict: plan.Keep, row: row} }
func reject(field, rule, reason string) want {
	return want{verdict: plan.Reject, field: field, rule: rule, reason: reason}
}
func filtered(reason string) want { return want{verdict: plan.Filtered, filter: reason} }

// sameValue compares values by meaning: a String's plain flag and a
// Float's source text are hints for writers, not part of the value.
func sameValue(a, b record.Value) bool {
	switch {
	case a.Kind != b.Kind:
		return false
	case a.Kind == record.String:
		return string(a.Bytes) == string(b.Bytes)
	case a.Kind == record.Float:
		return a.Float == b.Float || (math.IsNaN(a.Float) && math.IsNaN(b.Float))
	}
	return a.Int == b.Int && string(a.Bytes) == string(b.Bytes) && (a.Float == b.Float || (math.IsNaN(a.Float) && math.IsNaN(b.Float)))
}

func showRow(row []record.Value) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, v := range row {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(v.Kind.String())
		b.WriteByte(':')
		switch v.Kind {
		case record.Float:
			b.WriteString(string(record.AppendFloat(nil, v.Float)))
			if v.Bytes != nil {
				b.WriteString("(" + string(v.Bytes) + ")")
			}
		case record.Decimal:
			b.WriteString(strconv.FormatInt(v.Int, 10))
		default:
			b.WriteString(string(record.AppendText(nil, v, 0)))
		}
	}
	b.WriteByte(']')
	return b.String()
}

func checkOutcome(t *testing.T, o *plan.Outcome, w want) {
	t.Helper()
	reasonOK := o.Reason == w.reason
	if p, ok := strings.CutSuffix(w.reason, "..."); ok {
		reasonOK = strings.HasPrefix(o.Reason, p)
	}
	if o.Verdict != w.verdict || o.Field != w.field || o.Rule != w.rule || !reasonOK || o.FilterReason != w.filter {
		t.Errorf("outcome {Verdict:%d Field:%q Rule:%q Reason:%q FilterReason:%q}\nwant    {Verdict:%d Field:%q Rule:%q Reason:%q FilterReason:%q}",
			o.Verdict, o.Field, o.Rule, o.Reason, o.FilterReason, w.verdict, w.field, w.rule, w.reason, w.filter)
	}
	if w.verdict != plan.Keep {
		if o.Row != nil || o.Full != nil {
			t.Errorf("rows on a non-kept outcome: %v %v", showRow(o.Row), showRow(o.Full))
		}
		return
	}
	ok := len(o.Row) == len(w.row)
	for i := 0; ok && i < len(w.row); i++ {
		ok = sameValue(o.Row[i], w.row[i])
	}
	if !ok {
		t.Errorf("row %s\nwant %s", showRow(o.Row), showRow(w.row))
	}
}

func process(t *testing.T, pr *plan.Processor, r *codec.RawRecord) *plan.Outcome {
	t.Helper()
	o, err := pr.Process(r)
	if err != nil {
		t.Fatalf("Process: %v", err)
	}
	return o
}

type fieldCase struct {
	name  string
	field string // the field a, as a YAML flow mapping without braces
	in    codec.RawField
	want  want
}

// runFieldCases processes one record with one field a for each case.
func runFieldCases(t *testing.T, tests []fieldCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := compile(t, "fields:\n  - {name: a, "+tc.field+"}\n")
			checkOutcome(t, process(t, p.NewProcessor(), rec(tc.in)), tc.want)
		})
	}
}

func TestClean(t *testing.T) {
	runFieldCases(t, []fieldCase{
		{"trim", "clean: [trim]", str("\t x y \r\n"), keep(S("x y"))},
		{"trim unicode space", "clean: [trim]", str("\u00a0x\u3000"), keep(S("x"))},
		{"lower", "clean: [lower]", str("MiXeD 1"), keep(S("mixed 1"))},
		{"lower unicode", "clean: [lower]", str("ÀÉÎ Ab"), keep(S("àéî ab"))},
		{"lower unchanged", "clean: [lower]", str("abc"), keep(S("abc"))},
		{"upper", "clean: [upper]", str("straße é"), keep(S("STRAßE É"))},
		{"collapse_spaces", "clean: [collapse_spaces]", str("  a \t\n b  c "), keep(S("a b c"))},
		{"collapse_spaces replaces invalid UTF-8", "clean: [collapse_spaces]", str("a\xffb"), keep(S("a\uFFFDb"))},
		{"null_if match", "clean: [{null_if: [N/A, '-']}]", str("N/A"), keep(null)},
		{"null_if second value", "clean: [{null_if: [N/A, '-']}]", str("-"), keep(null)},
		{"null_if is case-sensitive", "clean: [{null_if: [N/A, '-']}]", str("n/a"), keep(S("n/a"))},
		{"null_if single value", "clean: [{null_if: NULL}]", str("NULL"), keep(null)},
		{"null_if after trim", "clean: [trim, {null_if: ['']}]", str("   "), keep(null)},
		{"null_if before trim", "clean: [{null_if: ['']}, trim]", str("   "), keep(S(""))},
		{"null_if sees earlier steps", "clean: [lower, {null_if: ['null']}]", str("NULL"), keep(null)},
		{"default on empty", "clean: [trim, {default: USD}]", str("  "), keep(S("USD"))},
		{"default on missing", "clean: [trim, {default: USD}]", missing, keep(S("USD"))},
		{"default on JSON null", "clean: [trim, {default: USD}]", jnull, keep(S("USD"))},
		{"default leaves a value", "clean: [trim, {default: USD}]", str(" eur "), keep(S("eur"))},
		{"steps after default apply to an empty value", "clean: [{default: usd}, upper]", str(""), keep(S("USD"))},
		{"a null value takes the default as written", "clean: [{default: usd}, upper]", missing, keep(S("usd"))},
		{"default after null_if", "clean: [{null_if: ['-']}, {default: none}]", str("-"), keep(S("none"))},
		{"default before null_if", "clean: [{default: none}, {null_if: ['-']}]", str("-"), keep(S("none"))},
		{"int default on empty", "type: int, clean: [{default: 0}]", str(""), keep(I(0))},
		{"int default on missing", "type: int, clean: [{default: 0}]", missing, keep(I(0))},
		{"int default on JSON null", "type: int, clean: [{default: 0}]", jnull, keep(I(0))},
		{"default not of the type", "type: int, clean: [{default: x}]", missing, reject("a", "type", "default not an integer")},
		{"no steps: empty int is null", "type: int", str(""), keep(null)},
		{"no steps: empty string stays", "", str(""), keep(S(""))},
		{"missing string is null", "", missing, keep(null)},
		{"JSON null string is null", "", jnull, keep(null)},
		{"clean then cast", "type: int, clean: [trim]", str(" 42 "), keep(I(42))},
		{"clean then cast decimal", "type: decimal, scale: 2, clean: [trim, {null_if: ['-']}]", str(" - "), keep(null)},
	})
}

func TestCastInt(t *testing.T) {
	runFieldCases(t, []fieldCase{
		{"plain", "type: int", str("42"), keep(I(42))},
		{"negative", "type: int", str("-7"), keep(I(-7))},
		{"plus sign", "type: int", str("+7"), keep(I(7))},
		{"leading zeros", "type: int", str("007"), keep(I(7))},
		{"max", "type: int", str("9223372036854775807"), keep(I(math.MaxInt64))},
		{"min", "type: int", str("-9223372036854775808"), keep(I(math.MinInt64))},
		{"overflow", "type: int", str("9223372036854775808"), reject("a", "type", "not an integer")},
		{"text 4.0", "type: int", str("4.0"), reject("a", "type", "not an integer")},
		{"spaces", "type: int", str(" 42"), reject("a", "type", "not an integer")},
		{"underscore", "type: int", str("1_000"), reject("a", "type", "not an integer")},
		{"word", "type: int", str("ten"), reject("a", "type", "not an integer")},
		{"JSON 4.0", "type: int", num("4.0"), keep(I(4))},
		{"JSON 1e3", "type: int", num("1e3"), keep(I(1000))},
		{"JSON 4.5", "type: int", num("4.5"), reject("a", "type", "not an integer")},
		{"JSON 1e19", "type: int", num("1e19"), reject("a", "type", "not an integer")},
		{"JSON bool", "type: int", jbool("true"), reject("a", "type", "a boolean is not a int")},
		{"JSON object", "type: int", jraw(`{"x":1}`), reject("a", "type", "an object or array is not a int")},
		{"JSON null", "type: int", jnull, keep(null)},
		{"JSON string", "type: int", str("12"), keep(I(12))},
	})
}

// A JSON number is an int when its exact value is a whole number: one
// that underflows a float64 (1e-400, 2e-324) is not, just as 1e-7 is not.
func TestCastIntFromJSONNumbers(t *testing.T) {
	runFieldCases(t, []fieldCase{
		{"1e-7", "type: int", num("1e-7"), reject("a", "type", "not an integer")},
		{"1e-400 underflows", "type: int", num("1e-400"), reject("a", "type", "not an integer")},
		{"2e-324 underflows", "type: int", num("2e-324"), reject("a", "type", "not an integer")},
		{"-2e-324 underflows", "type: int", num("-2e-324"), reject("a", "type", "not an integer")},
		{"rounds to a whole float64", "type: int", num("1.0000000000000000001"), reject("a", "type", "not an integer")},
		{"0e-400 is zero", "type: int", num("0e-400"), keep(I(0))},
		{"-0.0", "type: int", num("-0.0"), keep(I(0))},
		{"12.0", "type: int", num("12.0"), keep(I(12))},
		{"1.5e1", "type: int", num("1.5e1"), keep(I(15))},
		{"100e-2", "type: int", num("100e-2"), keep(I(1))},
		{"1E+3", "type: int", num("1E+3"), keep(I(1000))},
		{"exact beyond float64", "type: int", num("12345678901234567.0"), keep(I(12345678901234567))},
		{"max", "type: int", num("9.223372036854775807e18"), keep(I(math.MaxInt64))},
		{"min", "type: int", num("-9223372036854775808.0"), keep(I(math.MinInt64))},
		{"above max", "type: int", num("9.223372036854775808e18"), reject("a", "type", "not an integer")},
		{"huge exponent", "type: int", num("1e999999999999"), reject("a", "type", "not an integer")},
		{"trailing zeros beyond 19 digits", "type: int", num("10000000000000000000000000e-10"), keep(I(1_000_000_000_000_000))},
	})
}

func TestCastFloat(t *testing.T) {
	runFieldCases(t, []fieldCase{
		{"keeps its text", "type: float", str("1.50"), keep(FT(1.5, "1.50"))},
		{"negative", "type: float", str("-0.25"), keep(FT(-0.25, "-0.25"))},
		{"integer", "type: float", str("3"), keep(FT(3, "3"))},
		{"exponent: no text", "type: float", str("1e3"), keep(F(1000))},
		{"leading zero: no text", "type: float", str("007"), keep(F(7))},
		{"plus sign: no text", "type: float", str("+1.5"), keep(F(1.5))},
		{"long: no text", "type: float", str("123456789012345678"), keep(F(123456789012345678))},
		{"NaN", "type: float", str("NaN"), reject("a", "type", "not a number")},
		{"Inf", "type: float", str("Inf"), reject("a", "type", "not a number")},
		{"too large", "type: float", str("1e400"), reject("a", "type", "not a number")},
		{"comma", "type: float", str("1,5"), reject("a", "type", "not a number")},
		{"JSON number", "type: float", num("2.5"), keep(FT(2.5, "2.5"))},
		{"JSON bool", "type: float", jbool("false"), reject("a", "type", "a boolean is not a float")},
	})
}

func TestCastDecimal(t *testing.T) {
	runFieldCases(t, []fieldCase{
		{"exact", "type: decimal, scale: 2", str("19.99"), keep(D(1999))},
		{"0.1 is exact", "type: decimal, scale: 2", str("0.1"), keep(D(10))},
		{"fewer places", "type: decimal, scale: 2", str("5.5"), keep(D(550))},
		{"no point", "type: decimal, scale: 2", str("5"), keep(D(500))},
		{"trailing point", "type: decimal, scale: 2", str("5."), keep(D(500))},
		{"leading point", "type: decimal, scale: 2", str(".5"), keep(D(50))},
		{"negative", "type: decimal, scale: 2", str("-0.01"), keep(D(-1))},
		{"plus", "type: decimal, scale: 2", str("+1.00"), keep(D(100))},
		{"extra zeros", "type: decimal, scale: 2", str("1.2300"), keep(D(123))},
		{"too many places", "type: decimal, scale: 2", str("1.234"), reject("a", "type", "more decimal places than the scale allows")},
		{"largest", "type: decimal, scale: 2", str("92233720368547758.07"), keep(D(math.MaxInt64))},
		{"largest negative", "type: decimal, scale: 2", str("-92233720368547758.07"), keep(D(-math.MaxInt64))},
		{"overflow", "type: decimal, scale: 2", str("92233720368547758.08"), reject("a", "type", "decimal out of range")},
		{"overflow by scaling", "type: decimal, scale: 2", str("92233720368547759"), reject("a", "type", "decimal out of range")},
		{"exponent", "type: decimal, scale: 2", str("1e2"), reject("a", "type", "not a decimal")},
		{"point only", "type: decimal, scale: 2", str("."), reject("a", "type", "not a decimal")},
		{"sign only", "type: decimal, scale: 2", str("-"), reject("a", "type", "not a decimal")},
		{"comma", "type: decimal, scale: 2", str("1,5"), reject("a", "type", "not a decimal")},
		{"two points", "type: decimal, scale: 2", str("1.2.3"), reject("a", "type", "not a decimal")},
		{"scale 0", "type: decimal", str("12"), keep(D(12))},
		{"scale 0 with zero places", "type: decimal", str("12.000"), keep(D(12))},
		{"scale 0 with places", "type: decimal", str("12.5"), reject("a", "type", "more decimal places than the scale allows")},
		{"scale 18", "type: decimal, scale: 18", str("9.223372036854775807"), keep(D(math.MaxInt64))},
		{"scale 18 overflow", "type: decimal, scale: 18", str("9.3"), reject("a", "type", "decimal out of range")},
		{"JSON number", "type: decimal, scale: 2", num("12.5"), keep(D(1250))},
		{"JSON exponent", "type: decimal, scale: 2", num("1e2"), reject("a", "type", "not a decimal")},
	})
}

func TestCastBool(t *testing.T) {
	var tests []fieldCase
	for _, s := range []string{"true", "TRUE", "True", "t", "T", "yes", "Yes", "y", "Y", "1"} {
		tests = append(tests, fieldCase{s, "type: bool", str(s), keep(B(true))})
	}
	for _, s := range []string{"false", "FALSE", "f", "F", "no", "NO", "n", "N", "0"} {
		tests = append(tests, fieldCase{s, "type: bool", str(s), keep(B(false))})
	}
	tests = append(tests,
		fieldCase{"maybe", "type: bool", str("maybe"), reject("a", "type", "not a boolean")},
		fieldCase{"2", "type: bool", str("2"), reject("a", "type", "not a boolean")},
		fieldCase{"on", "type: bool", str("on"), reject("a", "type", "not a boolean")},
		fieldCase{"empty", "type: bool", str(""), keep(null)},
		fieldCase{"JSON true", "type: bool", jbool("true"), keep(B(true))},
		fieldCase{"JSON false", "type: bool", jbool("false"), keep(B(false))},
		fieldCase{"JSON 1", "type: bool", num("1"), keep(B(true))},
	)
	runFieldCases(t, tests)
}

func TestCastString(t *testing.T) {
	runFieldCases(t, []fieldCase{
		{"text", "", str("héllo"), keep(S("héllo"))},
		{"invalid UTF-8", "", str("a\xffb"), reject("a", "utf8", "invalid UTF-8")},
		{"invalid UTF-8 after trim", "clean: [trim]", str(" \xff "), reject("a", "utf8", "invalid UTF-8")},
		{"JSON number as written", "", num("12.50"), keep(S("12.50"))},
		{"JSON bool as written", "", jbool("true"), keep(S("true"))},
		{"JSON object as its text", "", jraw(`{"x": [1, 2]}`), keep(S(`{"x": [1, 2]}`))},
	})
}

func TestCastTimestamp(t *testing.T) {
	runFieldCases(t, []fieldCase{
		{"RFC 3339", "type: timestamp", str("2026-11-01T09:15:00Z"), keep(TS(utc(2026, 11, 1, 9, 15, 0, 0)))},
		{"RFC 3339 nanoseconds and offset", "type: timestamp", str("2026-11-01T09:15:00.123456789+02:00"), keep(TS(utc(2026, 11, 1, 7, 15, 0, 123456000)))},
		{"T without zone", "type: timestamp", str("2026-11-01T09:15:00"), keep(TS(utc(2026, 11, 1, 9, 15, 0, 0)))},
		{"space without zone", "type: timestamp", str("2026-11-01 10:02:33"), keep(TS(utc(2026, 11, 1, 10, 2, 33, 0)))},
		{"space with offset", "type: timestamp", str("2026-11-01 10:02:33+01:00"), keep(TS(utc(2026, 11, 1, 9, 2, 33, 0)))},
		{"date only", "type: timestamp", str("2026-11-01"), keep(TS(utc(2026, 11, 1, 0, 0, 0, 0)))},
		{"other layout", "type: timestamp", str("01/11/2026"), reject("a", "type", "not a timestamp in the accepted layouts")},
		{"time zone", "type: timestamp, timezone: America/New_York", str("2026-07-01 12:00:00"), keep(TS(utc(2026, 7, 1, 16, 0, 0, 0)))},
		{"time zone in winter", "type: timestamp, timezone: America/New_York", str("2026-01-15"), keep(TS(utc(2026, 1, 15, 5, 0, 0, 0)))},
		{"an offset wins over the time zone", "type: timestamp, timezone: America/New_York", str("2026-07-01T12:00:00+02:00"), keep(TS(utc(2026, 7, 1, 10, 0, 0, 0)))},
		{"own layout", "type: timestamp, layouts: ['02/01/2006 15:04']", str("25/12/2026 08:30"), keep(TS(utc(2026, 12, 25, 8, 30, 0, 0)))},
		{"own layout replaces the defaults", "type: timestamp, layouts: ['02/01/2006 15:04']", str("2026-12-25"), reject("a", "type", "not a timestamp in the accepted layouts")},
		{"layouts in order", "type: timestamp, layouts: ['2006-01-02', '02/01/2006']", str("25/12/2026"), keep(TS(utc(2026, 12, 25, 0, 0, 0, 0)))},
		{"unix", "type: timestamp, layouts: [unix]", str("1700000000"), keep(TS(time.Unix(1700000000, 0)))},
		{"unix negative", "type: timestamp, layouts: [unix]", str("-1"), keep(TS(time.Unix(-1, 0)))},
		{"unix fraction", "type: timestamp, layouts: [unix]", str("1700000000.5"), reject("a", "type", "not a timestamp in the accepted layouts")},
		{"unix_ms", "type: timestamp, layouts: [unix_ms]", str("1700000000123"), keep(TS(time.UnixMilli(1700000000123)))},
		{"unix_us", "type: timestamp, layouts: [unix_us]", str("1700000000123456"), keep(TS(time.UnixMicro(1700000000123456)))},
		{"unix takes any integer", "type: timestamp, layouts: [unix, '20060102']", str("20260102"), keep(TS(time.Unix(20260102, 0)))},
		{"unix then a layout", "type: timestamp, layouts: [unix, '2006-01-02']", str("2026-01-02"), keep(TS(utc(2026, 1, 2, 0, 0, 0, 0)))},
		{"unix ignores the time zone", "type: timestamp, layouts: [unix], timezone: Asia/Tokyo", str("0"), keep(TS(time.Unix(0, 0)))},
		{"JSON number", "type: timestamp, layouts: [unix_ms]", num("1700000000123"), keep(TS(time.UnixMilli(1700000000123)))},
		{"empty", "type: timestamp", str(""), keep(null)},
	})
}

func TestCastDate(t *testing.T) {
	runFieldCases(t, []fieldCase{
		{"date", "type: date", str("2026-11-01"), keep(DT(2026, 11, 1))},
		{"epoch", "type: date", str("1970-01-01"), keep(DT(1970, 1, 1))},
		{"the date as written", "type: date", str("2026-11-01T23:30:00-05:00"), keep(DT(2026, 11, 1))},
		{"time dropped", "type: date", str("2026-11-01 23:59:59"), keep(DT(2026, 11, 1))},
		{"before 1970", "type: date", str("1969-12-31"), keep(DT(1969, 12, 31))},
		{"own layout", "type: date, layouts: ['02.01.2006']", str("31.12.2026"), keep(DT(2026, 12, 31))},
		{"other layout", "type: date", str("31.12.2026"), reject("a", "type", "not a date in the accepted layouts")},
		{"unix, UTC", "type: date, layouts: [unix]", str("1700000000"), keep(DT(2023, 11, 14))},
		{"unix in a time zone", "type: date, layouts: [unix], timezone: Asia/Tokyo", str("1700000000"), keep(DT(2023, 11, 15))},
		{"unix_ms", "type: date, layouts: [unix_ms]", str("1700000000000"), keep(DT(2023, 11, 14))},
	})
}

// A unix date does not depend on the machine's time zone.
func TestCastUnixDateIgnoresLocalZone(t *testing.T) {
	saved := time.Local
	defer func() { time.Local = saved }()
	time.Local = time.FixedZone("far east", 14*3600)
	p := compile(t, "fields: [{name: a, type: date, layouts: [unix]}]\n")
	checkOutcome(t, process(t, p.NewProcessor(), rec(str("1700000000"))), keep(DT(2023, 11, 14))) // 22:13:20 UTC
}

func TestRules(t *testing.T) {
	runFieldCases(t, []fieldCase{
		{"required: missing", "required: true", missing, reject("a", "required", "value is missing")},
		{"required: JSON null", "required: true", jnull, reject("a", "required", "value is missing")},
		{"required: empty string", "required: true", str(""), reject("a", "required", "value is empty")},
		{"required: blank is a value", "required: true", str(" "), keep(S(" "))},
		{"required: blank after trim", "required: true, clean: [trim]", str("  "), reject("a", "required", "value is empty")},
		{"required: empty int is missing", "required: true, type: int", str(""), reject("a", "required", "value is missing")},
		{"required: null_if", "required: true, clean: [{null_if: [x]}]", str("x"), reject("a", "required", "value is missing")},
		{"required: default fills", "required: true, clean: [{default: d}]", missing, keep(S("d"))},

		{"regex: match", "rules: {regex: '^[a-z]+$'}", str("abc"), keep(S("abc"))},
		{"regex: no match", "rules: {regex: '^[a-z]+$'}", str("ab1"), reject("a", "regex", "does not match ^[a-z]+$")},
		{"regex: unanchored", "rules: {regex: 'b'}", str("abc"), keep(S("abc"))},
		{"regex: literal no match", "rules: {regex: 'b'}", str("xyz"), reject("a", "regex", "does not match b")},
		{"regex: case-insensitive", "rules: {regex: '(?i)B'}", str("abc"), keep(S("abc"))},
		{"regex: int text", "type: int, rules: {regex: '^\\d{3}$'}", str("1234"), reject("a", "regex", "does not match ^\\d{3}$")},
		{"regex: int canonical text", "type: int, rules: {regex: '^\\d{3}$'}", str("0123"), keep(I(123))},
		{"regex: decimal canonical text", "type: decimal, scale: 2, rules: {regex: '\\.00$'}", str("5"), keep(D(500))},
		{"regex: timestamp canonical text", "type: timestamp, rules: {regex: 'T00:00:00\\.000000Z$'}", str("2026-01-01"), keep(TS(utc(2026, 1, 1, 0, 0, 0, 0)))},
		{"regex: null passes", "rules: {regex: '^x$'}", missing, keep(null)},
		{"regex: empty string is checked", "rules: {regex: '^x$'}", str(""), reject("a", "regex", "does not match ^x$")},

		{"min: below", "type: int, rules: {min: 0, max: 10}", str("-1"), reject("a", "min", "below the minimum 0")},
		{"min: inclusive", "type: int, rules: {min: 0, max: 10}", str("0"), keep(I(0))},
		{"max: inclusive", "type: int, rules: {min: 0, max: 10}", str("10"), keep(I(10))},
		{"max: above", "type: int, rules: {min: 0, max: 10}", str("11"), reject("a", "max", "above the maximum 10")},
		{"min: decimal", "type: decimal, scale: 2, rules: {min: 0.5}", str("0.49"), reject("a", "min", "below the minimum 0.50")},
		{"min: decimal equal", "type: decimal, scale: 2, rules: {min: 0.5}", str("0.50"), keep(D(50))},
		{"max: float", "type: float, rules: {max: 1.5}", str("1.6"), reject("a", "max", "above the maximum 1.5")},
		{"max: float negative bound", "type: float, rules: {min: -1.5}", str("-2"), reject("a", "min", "below the minimum -1.5")},
		{"min: timestamp", "type: timestamp, rules: {min: '2026-01-01'}", str("2025-12-31T23:59:59Z"), reject("a", "min", "below the minimum 2026-01-01T00:00:00.000000Z")},
		{"min: timestamp bound in the time zone", "type: timestamp, timezone: Europe/Paris, rules: {min: '2026-01-01 00:00:00'}", str("2025-12-31T23:30:00Z"), keep(TS(utc(2025, 12, 31, 23, 30, 0, 0)))},
		{"max: date", "type: date, rules: {max: '2026-12-31'}", str("2027-01-01"), reject("a", "max", "above the maximum 2026-12-31")},
		{"min: null passes", "type: int, rules: {min: 1}", str(""), keep(null)},

		{"length: short", "rules: {length: {min: 2, max: 3}}", str("a"), reject("a", "length", "shorter than 2 characters")},
		{"length: empty", "rules: {length: {min: 2, max: 3}}", str(""), reject("a", "length", "shorter than 2 characters")},
		{"length: ok", "rules: {length: {min: 2, max: 3}}", str("ab"), keep(S("ab"))},
		{"length: characters, not bytes", "rules: {length: {min: 2, max: 3}}", str("日本語"), keep(S("日本語"))},
		{"length: long", "rules: {length: {min: 2, max: 3}}", str("abcd"), reject("a", "length", "longer than 3 characters")},
		{"length: max only", "rules: {length: {max: 1}}", str(""), keep(S(""))},
		{"length: null passes", "rules: {length: {min: 2}}", missing, keep(null)},

		{"enum: in", "rules: {enum: [USD, EUR]}", str("EUR"), keep(S("EUR"))},
		{"enum: case matters", "rules: {enum: [USD, EUR]}", str("usd"), reject("a", "enum", "not one of the allowed values")},
		{"enum: after cleaning", "clean: [trim, upper], rules: {enum: [USD, EUR]}", str(" usd "), keep(S("USD"))},
		{"enum: int by value", "type: int, rules: {enum: [1, 2]}", str("01"), keep(I(1))},
		{"enum: int out", "type: int, rules: {enum: [1, 2]}", str("3"), reject("a", "enum", "not one of the allowed values")},
		{"enum: decimal by value", "type: decimal, scale: 2, rules: {enum: ['1.5']}", str("1.50"), keep(D(150))},
		{"enum: bool by value", "type: bool, rules: {enum: [true]}", str("yes"), keep(B(true))},
		{"enum: bool out", "type: bool, rules: {enum: [true]}", str("no"), reject("a", "enum", "not one of the allowed values")},
		{"enum: null passes", "rules: {enum: [x]}", missing, keep(null)},

		{"expr: true", "type: int, rules: {expr: value % 2 == 0}", str("4"), keep(I(4))},
		{"expr: false", "type: int, rules: {expr: value % 2 == 0}", str("3"), reject("a", "expr", "expression is false")},
		{"expr: null passes", "type: int, rules: {expr: value % 2 == 0}", missing, keep(null)},
		{"expr: field by name", "type: int, rules: {expr: a == value}", str("3"), keep(I(3))},
		{"expr: runtime error", "type: int, rules: {expr: value % 0 == 0}", str("3"), reject("a", "expr", "expression failed: ...")},
		{"expr: string", "rules: {expr: 'value startsWith \"x\"'}", str("yz"), reject("a", "expr", "expression is false")},
		{"expr: decimal as float", "type: decimal, scale: 2, rules: {expr: value == 0.1}", str("0.10"), keep(D(10))},
		{"expr: timestamp", "type: timestamp, rules: {expr: value.Year() == 2026}", str("2025-12-31T23:00:00-02:00"), keep(TS(utc(2026, 1, 1, 1, 0, 0, 0)))},

		{"rule order: required first", "required: true, rules: {regex: x}", str(""), reject("a", "required", "value is empty")},
		{"rule order: regex before enum", "rules: {regex: '^a', enum: [b]}", str("x"), reject("a", "regex", "does not match ^a")},
		{"rule order: min before length", "type: int, rules: {min: 5, enum: [9]}", str("1"), reject("a", "min", "below the minimum 5")},
		{"cast before rules", "type: int, required: true", str("x"), reject("a", "type", "not an integer")},
	})
}

func TestRuleExprSeesOtherFields(t *testing.T) {
	p := compile(t, doc(
		"fields:",
		"  - {name: lo, type: int}",
		"  - {name: hi, type: int, rules: {expr: value >= lo}}",
	))
	pr := p.NewProcessor()
	checkOutcome(t, process(t, pr, rec(str("1"), str("2"))), keep(I(1), I(2)))
	checkOutcome(t, process(t, pr, rec(str("3"), str("2"))), reject("hi", "expr", "expression is false"))
	// A null other field is nil in the expression: comparing it fails.
	checkOutcome(t, process(t, pr, rec(missing, str("2"))), reject("hi", "expr", "expression failed: invalid operation: int >= <nil>..."))
}

// A field named value keeps its own value outside field rules.
func TestFieldNamedValue(t *testing.T) {
	p := compile(t, doc(
		"fields:",
		"  - {name: value, type: int}",
		"  - {name: b, type: int, rules: {expr: value > 0}}",
		"validate:",
		"  - {name: v, expr: value == 7}",
		"derive:",
		"  - {name: d, expr: value * 10}",
	))
	pr := p.NewProcessor()
	checkOutcome(t, process(t, pr, rec(str("7"), str("3"))), keep(I(7), I(3), I(70)))
	checkOutcome(t, process(t, pr, rec(str("7"), str("-3"))), reject("b", "expr", "expression is false"))
	checkOutcome(t, process(t, pr, rec(str("8"), str("3"))), reject("", "check:v", "check is false"))
}

func TestFieldOrder(t *testing.T) {
	p := compile(t, doc(
		"fields:",
		"  - {name: a, type: int}",
		"  - {name: b, type: int, required: true}",
		"  - {name: c, rules: {expr: value != 'x'}}",
		"validate:",
		"  - {expr: 'false'}",
	))
	pr := p.NewProcessor()
	checkOutcome(t, process(t, pr, rec(str("x"), missing, str("x"))), reject("a", "type", "not an integer"))
	checkOutcome(t, process(t, pr, rec(str("1"), missing, str("x"))), reject("b", "required", "value is missing"))
	checkOutcome(t, process(t, pr, rec(str("1"), str("2"), str("x"))), reject("c", "expr", "expression is false"))
	checkOutcome(t, process(t, pr, rec(str("1"), str("2"), str("y"))), reject("", "check:check1", "check is false"))
}

func TestDecodeError(t *testing.T) {
	p := compile(t, "fields: [{name: a, required: true}]\n")
	r := rec(missing)
	r.Err = errors.New("wrong number of columns: want 2, got 3")
	o := process(t, p.NewProcessor(), r)
	checkOutcome(t, o, reject("", "decode", "wrong number of columns: want 2, got 3"))
	if o.RuleKey() != "decode" {
		t.Errorf("RuleKey = %q", o.RuleKey())
	}
}

func TestRuleKey(t *testing.T) {
	tests := []struct {
		o    plan.Outcome
		want string
	}{
		{plan.Outcome{Field: "email", Rule: "regex"}, "email.regex"},
		{plan.Outcome{Rule: "check:positive"}, "check:positive"},
		{plan.Outcome{Rule: "derive:cents"}, "derive:cents"},
	}
	for _, tc := range tests {
		if got := tc.o.RuleKey(); got != tc.want {
			t.Errorf("RuleKey() = %q, want %q", got, tc.want)
		}
	}
}

const deriveFields = "fields:\n" +
	"  - {name: id, type: int}\n" +
	"  - {name: amount, type: decimal, scale: 2}\n" +
	"  - {name: email}\n" +
	"  - {name: at, type: timestamp}\n"

func TestDerive(t *testing.T) {
	at := utc(2026, 11, 1, 23, 30, 0, 0)
	base := []record.Value{I(3), D(1999), S("Ann@X.org"), TS(at)}
	in := rec(str("3"), str("19.99"), str("Ann@X.org"), str("2026-11-01T23:30:00Z"))
	tests := []struct {
		name   string
		derive string
		in     *codec.RawRecord
		want   want
		kinds  string // the derived fields' kinds
	}{
		{"inferred types", doc(
			"  - {name: twice, expr: id * 2}",
			"  - {name: half, expr: amount / 2}",
			"  - {name: big, expr: amount > 10}",
			"  - {name: mail, expr: lower(email)}",
			"  - {name: when, expr: at}",
			"  - {name: ratio, expr: id / 2}",
		), in, keep(append(base, I(6), F(9.995), B(true), S("ann@x.org"), TS(at), F(1.5))...),
			"int float bool string timestamp float"},
		{"declared types", doc(
			"  - {name: cents, expr: round(amount * 100), type: int}",
			"  - {name: amount3, expr: amount, type: decimal, scale: 3}",
			"  - {name: day, expr: at, type: date}",
			"  - {name: idf, expr: id, type: float}",
			"  - {name: idd, expr: id, type: decimal, scale: 1}",
			"  - {name: s, expr: email, type: string}",
		), in, keep(append(base, I(1999), D(19990), DT(2026, 11, 1), F(3), D(30), S("Ann@X.org"))...),
			"int decimal date float decimal string"},
		{"later derives, checks and filters read earlier ones", doc(
			"  - {name: cents, expr: round(amount * 100), type: int}",
			"  - {name: euros, expr: cents / 100}",
			"validate:",
			"  - {name: c, expr: euros == 19.99}",
			"filter: cents > 1000",
		), in, keep(append(base, I(1999), F(19.99))...), "int float"},
		{"named numeric types", doc(
			"  - {name: month, expr: at.Month()}",
			"  - {name: span, expr: at - at}",
			"  - {name: unixf, expr: at.Unix(), type: float}",
			"  - {name: unixd, expr: at.Unix(), type: decimal}",
			"  - {name: wday, expr: at.Weekday(), type: decimal, scale: 1}",
		), in, keep(append(base, I(11), I(0), F(float64(at.Unix())), D(at.Unix()), D(0))...),
			"int int float decimal decimal"},
		{"decimal rounds half away from zero", doc(
			"  - {name: eighth, expr: amount / 8, type: decimal, scale: 2}",
			"  - {name: neg, expr: -amount / 8, type: decimal, scale: 2}",
		), rec(str("3"), str("1.00"), str("x"), missing), keep(I(3), D(100), S("x"), null, D(13), D(-13)), "decimal decimal"},
		{"int from a fraction", doc(
			"  - {name: n, expr: amount * 1, type: int}",
		), in, reject("", "derive:n", "result is not an integer"), "int"},
		{"nil is null", doc(
			"  - {name: n, expr: 'id > 5 ? id : nil', type: int}",
		), in, keep(append(base, null)...), "int"},
		{"wrong type at run time", doc(
			"  - {name: n, expr: 'id > 5 ? id : email', type: int}",
		), in, reject("", "derive:n", "result is string, not int"), "int"},
		{"decimal out of range", doc(
			"  - {name: n, expr: 1e30, type: decimal}",
		), in, reject("", "derive:n", "result out of decimal range"), "decimal"},
		{"not finite", doc(
			"  - {name: n, expr: amount / (amount - amount)}",
		), in, reject("", "derive:n", "result is not a finite number"), "float"},
		{"runtime error", doc(
			"  - {name: n, expr: int(email), type: int}",
		), in, reject("", "derive:n", "expression failed: ..."), "int"},
		{"null input fails the expression", doc(
			"  - {name: n, expr: id + 1}",
		), rec(missing, str("1"), str("x"), missing), reject("", "derive:n", "expression failed: invalid operation: <nil> + int..."), "int"},
		{"null input guarded", doc(
			"  - {name: n, expr: '(id ?? 0) + 1', type: int}",
			"  - {name: m, expr: 'at == nil ? \"none\" : \"some\"'}",
		), rec(missing, str("1"), str("x"), missing), keep(null, D(100), S("x"), null, I(1), S("none")), "int string"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := compile(t, deriveFields+"derive:\n"+tc.derive)
			var kinds []string
			for _, f := range p.Full.Fields[4:] {
				kinds = append(kinds, f.Kind.String())
			}
			if got := strings.Join(kinds, " "); got != tc.kinds {
				t.Errorf("derived kinds %q, want %q", got, tc.kinds)
			}
			checkOutcome(t, process(t, p.NewProcessor(), tc.in), tc.want)
		})
	}
}

func TestValidate(t *testing.T) {
	p := compile(t, doc(
		"fields:",
		"  - {name: amount, type: decimal, scale: 2}",
		"  - {name: status}",
		"validate:",
		"  - {name: positive, expr: amount > 0}",
		"  - expr: status != 'refunded' || amount > 100",
		"  - {name: guarded, expr: '(amount ?? 1) > 0'}",
	))
	pr := p.NewProcessor()
	checkOutcome(t, process(t, pr, rec(str("5.00"), str("paid"))), keep(D(500), S("paid")))
	checkOutcome(t, process(t, pr, rec(str("0"), str("paid"))), reject("", "check:positive", "check is false"))
	checkOutcome(t, process(t, pr, rec(str("5"), str("refunded"))), reject("", "check:check2", "check is false"))
	// A null field is nil; comparing nil with a number fails the check.
	checkOutcome(t, process(t, pr, rec(missing, str("paid"))), reject("", "check:positive", "expression failed: invalid operation: <nil> > int..."))
}

func TestFilter(t *testing.T) {
	t.Run("bare string", func(t *testing.T) {
		p := compile(t, "fields: [{name: status}]\nfilter: status != 'cancelled'\n")
		pr := p.NewProcessor()
		checkOutcome(t, process(t, pr, rec(str("paid"))), keep(S("paid")))
		checkOutcome(t, process(t, pr, rec(str("cancelled"))), filtered("filter:filter"))
	})
	t.Run("list", func(t *testing.T) {
		p := compile(t, doc(
			"fields: [{name: x, type: int}]",
			"filter:",
			"  - {name: above1, expr: x > 1}",
			"  - expr: x > 2",
			"  - {name: below9, expr: x < 9}",
		))
		pr := p.NewProcessor()
		checkOutcome(t, process(t, pr, rec(str("0"))), filtered("filter:above1"))
		checkOutcome(t, process(t, pr, rec(str("2"))), filtered("filter:filter2"))
		checkOutcome(t, process(t, pr, rec(str("9"))), filtered("filter:below9"))
		checkOutcome(t, process(t, pr, rec(str("3"))), keep(I(3)))
		// A filter that fails to run rejects the record under its name.
		checkOutcome(t, process(t, pr, rec(missing)), reject("", "filter:above1", "expression failed: ..."))
		// A rejected record is never filtered.
		checkOutcome(t, process(t, pr, rec(str("x"))), reject("x", "type", "not an integer"))
	})
	t.Run("after validate", func(t *testing.T) {
		p := compile(t, "fields: [{name: x, type: int}]\nvalidate: [{name: v, expr: x > 5}]\nfilter: x > 10\n")
		checkOutcome(t, process(t, p.NewProcessor(), rec(str("1"))), reject("", "check:v", "check is false"))
	})
}

func TestDedup(t *testing.T) {
	t.Run("single key", func(t *testing.T) {
		p := compile(t, "fields: [{name: id, type: int}, {name: v}]\ndedup: {keys: [id]}\n")
		pr := p.NewProcessor()
		checkOutcome(t, process(t, pr, rec(str("1"), str("a"))), keep(I(1), S("a")))
		checkOutcome(t, process(t, pr, rec(str("2"), str("b"))), keep(I(2), S("b")))
		checkOutcome(t, process(t, pr, rec(str("1"), str("c"))), filtered("dedup"))
		checkOutcome(t, process(t, pr, rec(str("01"), str("d"))), filtered("dedup")) // the same int
		checkOutcome(t, process(t, pr, rec(missing, str("e"))), keep(null, S("e")))
		checkOutcome(t, process(t, pr, rec(missing, str("f"))), filtered("dedup")) // null is a key too
		// Another processor has its own keys.
		checkOutcome(t, process(t, p.NewProcessor(), rec(str("1"), str("g"))), keep(I(1), S("g")))
	})
	t.Run("composite key", func(t *testing.T) {
		p := compile(t, "fields: [{name: a}, {name: b}]\ndedup: {keys: [a, b]}\n")
		pr := p.NewProcessor()
		checkOutcome(t, process(t, pr, rec(str("ab"), str("c"))), keep(S("ab"), S("c")))
		checkOutcome(t, process(t, pr, rec(str("a"), str("bc"))), keep(S("a"), S("bc")))
		checkOutcome(t, process(t, pr, rec(str(""), missing)), keep(S(""), null))
		checkOutcome(t, process(t, pr, rec(missing, str(""))), keep(null, S("")))
		checkOutcome(t, process(t, pr, rec(str("ab"), str("c"))), filtered("dedup"))
		checkOutcome(t, process(t, pr, rec(str(""), missing)), filtered("dedup"))
	})
	t.Run("derived and dropped keys", func(t *testing.T) {
		p := compile(t, doc(
			"fields:",
			"  - {name: email, clean: [trim, lower], drop: true}",
			"  - {name: n, type: int}",
			"derive:",
			"  - {name: domain, expr: \"split(email, '@')[1]\"}",
			"dedup: {keys: [email, domain]}",
		))
		pr := p.NewProcessor()
		checkOutcome(t, process(t, pr, rec(str("A@x.org"), str("1"))), keep(I(1), S("x.org")))
		checkOutcome(t, process(t, pr, rec(str("b@x.org"), str("2"))), keep(I(2), S("x.org")))
		checkOutcome(t, process(t, pr, rec(str(" a@X.ORG "), str("3"))), filtered("dedup"))
	})
	t.Run("rejected and filtered rows leave no key", func(t *testing.T) {
		p := compile(t, "fields: [{name: id, type: int}, {name: ok, type: bool, required: true}]\nfilter: ok\ndedup: {keys: [id]}\n")
		pr := p.NewProcessor()
		checkOutcome(t, process(t, pr, rec(str("1"), missing)), reject("ok", "required", "value is missing"))
		checkOutcome(t, process(t, pr, rec(str("1"), str("false"))), filtered("filter:filter"))
		checkOutcome(t, process(t, pr, rec(str("1"), str("true"))), keep(I(1), B(true)))
		checkOutcome(t, process(t, pr, rec(str("1"), str("true"))), filtered("dedup"))
	})
	t.Run("-0 and 0 are one float key", func(t *testing.T) {
		p := compile(t, "fields: [{name: x, type: float}, {name: v}]\ndedup: {keys: [x]}\n")
		pr := p.NewProcessor()
		checkOutcome(t, process(t, pr, rec(str("-0"), str("a"))), keep(FT(0, "-0"), S("a")))
		checkOutcome(t, process(t, pr, rec(str("0"), str("b"))), filtered("dedup"))
		checkOutcome(t, process(t, pr, rec(num("0.0"), str("c"))), filtered("dedup"))
		checkOutcome(t, process(t, pr, rec(num("-0e5"), str("d"))), filtered("dedup"))
		checkOutcome(t, process(t, pr, rec(str("1"), str("e"))), keep(FT(1, "1"), S("e")))
	})
	t.Run("max_keys", func(t *testing.T) {
		p := compile(t, "fields: [{name: id, type: int}]\ndedup: {keys: [id], max_keys: 2}\n")
		pr := p.NewProcessor()
		checkOutcome(t, process(t, pr, rec(str("1"))), keep(I(1)))
		checkOutcome(t, process(t, pr, rec(str("2"))), keep(I(2)))
		checkOutcome(t, process(t, pr, rec(str("1"))), filtered("dedup"))
		o, err := pr.Process(rec(str("3")))
		if !errors.Is(err, plan.ErrDedupLimit) || o != nil || err.Error() != "dedup: more distinct keys than max_keys (2)" {
			t.Errorf("third key: %v, %v", o, err)
		}
	})
}

func TestDrop(t *testing.T) {
	p := compile(t, doc(
		"fields:",
		"  - {name: id, type: int}",
		"  - {name: secret, drop: true, required: true}",
		"  - {name: v}",
		"derive:",
		"  - {name: n, expr: len(secret)}",
		"validate:",
		"  - {expr: secret != 'bad'}",
	))
	if len(p.Out.Fields) != 3 || p.Out.Fields[1].Name != "v" || len(p.Full.Fields) != 4 {
		t.Fatalf("out %v, full %v", p.Out.Fields, p.Full.Fields)
	}
	pr := p.NewProcessor()
	o := process(t, pr, rec(str("1"), str("hush"), str("x")))
	checkOutcome(t, o, keep(I(1), S("x"), I(4)))
	if len(o.Full) != 4 || !sameValue(o.Full[1], S("hush")) {
		t.Errorf("full row %s", showRow(o.Full))
	}
	checkOutcome(t, process(t, pr, rec(str("1"), missing, str("x"))), reject("secret", "required", "value is missing"))
	checkOutcome(t, process(t, pr, rec(str("1"), str("bad"), str("x"))), reject("", "check:check1", "check is false"))
}

func TestRenameAndSharedColumns(t *testing.T) {
	p := compile(t, doc(
		"fields:",
		"  - {name: customer_id, from: user_id, type: int}",
		"  - {name: raw, from: user_id}",
	))
	if strings.Join(p.Columns, ",") != "user_id" {
		t.Fatalf("columns %v", p.Columns)
	}
	checkOutcome(t, process(t, p.NewProcessor(), rec(str("42"))), keep(I(42), S("42")))
}

// Expressions cannot run unbounded: the VM's memory budget stops them and
// the record is rejected; the processor goes on with the next record.
func TestExpressionCost(t *testing.T) {
	tests := []struct {
		name string
		expr string
	}{
		{"huge range", "len(1..100000000) > 0"},
		{"huge map", "len(map(1..10000000, #)) > 0"},
		{"nested loops", "all(1..1000, {all(1..1000, {# > 0})})"},
		{"huge string", `len(join(map(1..1000000, "xxxxxxxxxx"))) > 0`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := compile(t, "fields: [{name: a, type: int}]\nfilter: [{name: f, expr: 'a == 0 || ("+tc.expr+")'}]\n")
			pr := p.NewProcessor()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			checkOutcome(t, process(t, pr, rec(str("1"))), reject("", "filter:f", "expression failed: memory budget exceeded..."))
			runtime.ReadMemStats(&after)
			if n := after.TotalAlloc - before.TotalAlloc; n > 256<<20 {
				t.Errorf("allocated %d MiB", n>>20)
			}
			checkOutcome(t, process(t, pr, rec(str("0"))), keep(I(0)))
		})
	}
}

func TestOrdersExample(t *testing.T) {
	p, err := plan.FromFile("../../../examples/orders/spec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// order_id,user_id,email,amount,currency,status,country,created_at
	row := func(f ...string) *codec.RawRecord {
		r := rec()
		for _, s := range f {
			if s == "<missing>" {
				r.Fields = append(r.Fields, missing)
			} else {
				r.Fields = append(r.Fields, str(s))
			}
		}
		return r
	}
	pr := p.NewProcessor()
	checkOutcome(t, process(t, pr, row("1002", "502", " Bob.Smith@Example.COM ", "250.00", "usd", "PAID", "gb", "2026-11-01 10:02:33")),
		keep(I(1002), I(502), S("bob.smith@example.com"), D(25000), S("USD"), S("paid"), S("GB"),
			TS(utc(2026, 11, 1, 10, 2, 33, 0)), I(25000), B(false)))
	checkOutcome(t, process(t, pr, row("1003", "503", "c@example.org", "500", "", "pending", "N/A", "2026-11-01T11:45:10+01:00")),
		keep(I(1003), I(503), S("c@example.org"), D(50000), S("USD"), S("pending"), null,
			TS(utc(2026, 11, 1, 10, 45, 10, 0)), I(50000), B(true)))
	checkOutcome(t, process(t, pr, row("1004", "504", "not-an-email", "12.00", "USD", "paid", "US", "2026-11-01T12:00:00Z")),
		reject("email", "regex", `does not match ^[^@\s]+@[^@\s]+\.[a-z]{2,}$`))
	checkOutcome(t, process(t, pr, row("1005", "505", "e@x.io", "-1", "USD", "paid", "US", "2026-11-01T12:00:00Z")),
		reject("amount", "min", "below the minimum 0.00"))
	checkOutcome(t, process(t, pr, row("1006", "506", "e@x.io", "1", "JPY", "paid", "US", "2026-11-01T12:00:00Z")),
		reject("currency", "enum", "not one of the allowed values"))
	checkOutcome(t, process(t, pr, row("1007", "507", "e@x.io", "1", "USD", "paid", "USA", "2026-11-01T12:00:00Z")),
		reject("country", "length", "longer than 2 characters"))
	checkOutcome(t, process(t, pr, row("1008", "508", "e@x.io", "0", "USD", "refunded", "US", "2026-11-01T12:00:00Z")),
		reject("", "check:refund_has_amount", "check is false"))
	checkOutcome(t, process(t, pr, row("1009", "509", "e@x.io", "1", "USD", "cancelled", "US", "2026-11-01T12:00:00Z")),
		filtered("filter:not_cancelled"))
	checkOutcome(t, process(t, pr, row("1002", "502", "b@x.io", "1", "USD", "paid", "US", "2026-11-01T12:00:00Z")),
		filtered("dedup"))
	checkOutcome(t, process(t, pr, row("1010", "<missing>", "e@x.io", "1", "USD", "paid", "US", "2026-11-01T12:00:00Z")),
		reject("customer_id", "required", "value is missing"))
	checkOutcome(t, process(t, pr, row("1011", "511", "e@x.io", "1.005", "USD", "paid", "US", "2026-11-01T12:00:00Z")),
		reject("amount", "type", "more decimal places than the scale allows"))
	checkOutcome(t, process(t, pr, row("1012", "512", "e@x.io", "1", "USD", "paid", "US", "01/11/2026")),
		reject("created_at", "type", "not a timestamp in the accepted layouts"))
}
