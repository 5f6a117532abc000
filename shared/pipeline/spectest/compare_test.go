package spectest

import (
	"fmt"
	"testing"

	"github.com/sluice-etl/sluice/shared/core/record"
	"github.com/sluice-etl/sluice/shared/core/spec"
)

func TestEqualValue(t *testing.T) {
	tests := []struct {
		kind  record.Kind
		scale int
		want  spec.TestValue
		got   cell
		equal bool
	}{
		{record.Int, 0, spec.TestValue{Text: "12"}, cell{text: "12"}, true},
		{record.Int, 0, spec.TestValue{Text: "12"}, cell{text: "13"}, false},
		{record.Int, 0, spec.TestValue{Text: "abc"}, cell{text: "abc"}, false}, // not an int: never equal
		{record.Decimal, 2, spec.TestValue{Text: "250"}, cell{text: "250.00"}, true},
		{record.Decimal, 2, spec.TestValue{Text: "2.5"}, cell{text: "2.50"}, true},
		{record.Decimal, 2, spec.TestValue{Text: "2.51"}, cell{text: "2.50"}, false},
		{record.Float, 0, spec.TestValue{Text: "1e-7"}, cell{text: "0.0000001"}, true},
		{record.Float, 0, spec.TestValue{Text: "0.1"}, cell{text: "0.10000001"}, false},
		{record.Bool, 0, spec.TestValue{Text: "true"}, cell{text: "true"}, true},
		{record.Bool, 0, spec.TestValue{Text: "false"}, cell{text: "true"}, false},
		{record.Timestamp, 0, spec.TestValue{Text: "2026-11-01T09:00:00Z"}, cell{text: "2026-11-01T09:00:00.000000Z"}, true},
		{record.Timestamp, 0, spec.TestValue{Text: "2026-11-01 11:00:00"}, cell{text: "2026-11-01T09:00:00.000000Z"}, false},
		{record.Timestamp, 0, spec.TestValue{Text: "2026-11-01T11:00:00+02:00"}, cell{text: "2026-11-01T09:00:00.000000Z"}, true},
		{record.Date, 0, spec.TestValue{Text: "2026-11-01"}, cell{text: "2026-11-01"}, true},
		{record.String, 0, spec.TestValue{Text: ""}, cell{text: ""}, true},
		{record.String, 0, spec.TestValue{Text: ""}, cell{null: true}, false},
		{record.String, 0, spec.TestValue{Null: true}, cell{null: true}, true},
		{record.String, 0, spec.TestValue{Text: "null"}, cell{null: true}, false},
		{record.Int, 0, spec.TestValue{Null: true}, cell{text: "0"}, false},
	}
	for _, tc := range tests {
		name := fmt.Sprintf("%v %q %+v", tc.kind, tc.want.Text, tc.got)
		if got := equalValue(record.Field{Kind: tc.kind, Scale: tc.scale}, tc.want, tc.got); got != tc.equal {
			t.Errorf("%s: equal %v, want %v", name, got, tc.equal)
		}
	}
}

// align keeps matching items paired and pairs the others in order
// between them.
func TestAlign(t *testing.T) {
	tests := []struct {
		want, got string
		pairs     string
	}{
		{"abc", "abc", "[{0 0} {1 1} {2 2}]"},
		{"abc", "axc", "[{0 0} {1 1} {2 2}]"},
		{"abc", "ac", "[{0 0} {1 -1} {2 1}]"},
		{"ac", "abc", "[{0 0} {-1 1} {1 2}]"},
		{"abcd", "axyd", "[{0 0} {1 1} {2 2} {3 3}]"},
		{"ab", "xyzb", "[{0 0} {-1 1} {-1 2} {1 3}]"},
		{"", "ab", "[{-1 0} {-1 1}]"},
		{"ab", "", "[{0 -1} {1 -1}]"},
	}
	for _, tc := range tests {
		got := align(len(tc.want), len(tc.got), func(i, j int) bool { return tc.want[i] == tc.got[j] })
		if s := fmt.Sprint(got); s != tc.pairs {
			t.Errorf("align(%q, %q) = %s, want %s", tc.want, tc.got, s, tc.pairs)
		}
	}
}
