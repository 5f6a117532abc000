package enum_test

import (
	"testing"

	"github.com/sluice-etl/sluice/shared/core/enum"
)

type color string

var colors = []color{"red", "green", "blue"}

func TestList(t *testing.T) {
	for _, tc := range []struct {
		values []color
		want   string
	}{
		{nil, ""},
		{colors[:1], "red"},
		{colors[:2], "red or green"},
		{colors, "red, green or blue"},
	} {
		if got := enum.List(tc.values); got != tc.want {
			t.Errorf("List(%q) = %q, want %q", tc.values, got, tc.want)
		}
	}
}

func TestCheck(t *testing.T) {
	if err := enum.Check(color("green"), colors); err != nil {
		t.Errorf("green: %v", err)
	}
	if err := enum.Check(color("pink"), colors); err == nil || err.Error() != `want red, green or blue, not "pink"` {
		t.Errorf("pink: %v", err)
	}
	if err := enum.CheckNamed("color", color(""), colors); err == nil || err.Error() != `unknown color "" (want red, green or blue)` {
		t.Errorf("empty: %v", err)
	}
}
