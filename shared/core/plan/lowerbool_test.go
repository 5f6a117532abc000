package plan_test

import (
	"slices"
	"testing"

	"github.com/sluice-etl/sluice/shared/core/plan"
)

// lowerBoolSpec has checks, filters and boolean derived fields that are
// lowered (and some that are not) over fields of every kind the lowered
// forms read, each of which may be null.
const lowerBoolSpec = `version: 1
name: lowerbool
source: {format: csv}
fields:
  - {name: i, type: int}
  - {name: f, type: float}
  - {name: d, type: decimal, scale: 2}
  - {name: s}
  - {name: b, type: bool}
  - {name: t}
derive:
  - {name: big, expr: 'd >= 500', type: bool}
  - {name: mixed, expr: 'i > f || s == "x"', type: bool}
  - {name: both, expr: 'big and not mixed', type: bool}
  - {name: tern, expr: '(b ?? false) ? (i > 0) : (s == "x")', type: bool}
  - {name: count, expr: '(i ?? 7) + (f > 1 ? len(s) : len(t))', type: float}
validate:
  - {name: refunds, expr: 's != "refunded" || d > 0'}
  - {name: bots, expr: 'not (s startsWith "bot-") and i <= 100 or b'}
  - {name: text, expr: 'len(s) < 50'}
filter:
  - {name: sets, expr: 's in ["a", "b", "c", ""] || i in [1, 2, 3] || t endsWith "z" || s not in ["q"]'}
  - {name: strings, expr: 't contains s && s < t && i != 7 && f == 2.5 || d != 1.5 && !(big)'}
  - {name: order, expr: 's <= t or s >= "m" or s > t and i >= -3 and f < 1e9 and d <= 2 and i == d'}
  - {name: bools, expr: 'big == true || mixed'}
  - {name: defaults, expr: '(s ?? "none") != "skip" && (t == "" ? true : len(t) >= 1) && (s ?? "") < "zz" && (i > 2 ? s : t) <= "zz"'}
`

// TestLoweredBool: the checks and filters in the lowered case are
// lowered, and on ordinary rows, and rows with nulls, they give the VM's
// outcome.
func TestLoweredBool(t *testing.T) {
	p := compile(t, lowerBoolSpec)
	if got, want := p.LoweredChecks(), []bool{true, true, true, true, true, true, false, true}; !slices.Equal(got, want) {
		t.Fatalf("lowered %v, want %v", got, want)
	}
	if got, want := p.Lowered(), []bool{true, true, true, true, true}; !slices.Equal(got, want) {
		t.Fatalf("lowered derived fields %v, want %v", got, want)
	}
	for _, row := range [][]string{
		{"12", "2.5", "19.99", "a", "true", "abz"},
		{"7", "2.5", "1.50", "b", "false", "abc"},
		{"2", "-1", "600.00", "refunded", "false", "zz"},
		{"200", "0.5", "-3.00", "bot-1", "false", "m"},
		{"200", "0.5", "-3.00", "bot-1", "true", "m"},
		{"", "", "", "", "", ""},
		{"3", "", "2.00", "", "true", "q"},
		{"1", "1", "1.00", "q", "t", "q"},
	} {
		compareLowered(t, p, row)
	}
}

// FuzzLoweredBoolMatchesVM: for any values of the fields, null, huge or
// malformed included, the checks, filters and boolean derived fields
// give, lowered, the outcome of the VM alone.
func FuzzLoweredBoolMatchesVM(f *testing.F) {
	for _, s := range [][6]string{
		{"12", "2.5", "19.99", "a", "true", "abz"}, {"", "", "", "", "", ""}, {"9223372036854775807", "1e308", "500.00", "x", "0", "x"},
		{"-3", "NaN", "1.50", "bot-", "yes", "bot-"}, {"7", "-0", "0.00", "m", "n", "mz"}, {"1", "1", "1.00", "q", "t", "q"},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5])
	}
	p, err := plan.FromBytes("lowerbool.yaml", []byte(lowerBoolSpec))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, i, fl, d, s, b, tx string) {
		compareLowered(t, p, []string{i, fl, d, s, b, tx})
	})
}
