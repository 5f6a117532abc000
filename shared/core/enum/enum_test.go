package enum_test

import (
	"fmt"
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

func TestSetCheck(t *testing.T) {
	named := enum.Set[color]{Name: "color", Values: colors}
	optional := enum.Set[color]{Values: colors, EmptyOK: true}
	for _, tc := range []struct {
		set  enum.Set[color]
		v    color
		want string // "" for valid
	}{
		{named, "green", ""},
		{named, "", `unknown color "" (want red, green or blue)`},
		{named, "pink", `unknown color "pink" (want red, green or blue)`},
		{optional, "", ""},
		{optional, "blue", ""},
		{optional, "pink", `want red, green or blue, not "pink"`},
	} {
		got := fmt.Sprint(tc.set.Check(tc.v))
		if tc.want == "" && got != "<nil>" || tc.want != "" && got != tc.want {
			t.Errorf("%+v.Check(%q) = %s, want %q", tc.set, tc.v, got, tc.want)
		}
	}
}

func ExampleSet() {
	type policy string
	policies := enum.Set[policy]{Values: []policy{"quarantine", "fail"}}
	fmt.Println(policies.Check("fail"))
	fmt.Println(policies.Check("drop"))
	// Output:
	// <nil>
	// want quarantine or fail, not "drop"
}
