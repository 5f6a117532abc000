// Package enum checks the values of the spec's enumerated types. Each type
// (codec.Format, window.Kind, spec.RejectPolicy, ...) is declared once, in
// the package that uses it, with its constants and a Set of them in the
// order its messages name them; its Check method is the Set's, so a value
// is valid exactly when the message would list it.
package enum

import (
	"fmt"
	"slices"
	"strings"
)

// A Set is the values of one enumerated type.
type Set[T ~string] struct {
	// Name is what messages call the option, as in `unknown format "x"
	// (want a or b)`. Without a name they read `want a or b, not "x"`.
	Name string
	// Values are the valid values, in the order messages list them.
	Values []T
	// EmptyOK accepts "": the option left out, which stands for its
	// default.
	EmptyOK bool
}

// Check returns nil when v is valid, and otherwise an error that lists the
// valid values.
func (s Set[T]) Check(v T) error {
	switch {
	case v == "" && s.EmptyOK, slices.Contains(s.Values, v):
		return nil
	case s.Name != "":
		return fmt.Errorf("unknown %s %q (want %s)", s.Name, v, List(s.Values))
	}
	return fmt.Errorf("want %s, not %q", List(s.Values), v)
}

// List writes values as "a, b or c".
func List[T ~string](values []T) string {
	var b strings.Builder
	for i, v := range values {
		switch {
		case i == 0:
		case i == len(values)-1:
			b.WriteString(" or ")
		default:
			b.WriteString(", ")
		}
		b.WriteString(string(v))
	}
	return b.String()
}
