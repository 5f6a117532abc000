// Package enum checks the values of the spec's enumerated types. Each type
// (codec.Format, window.Kind, spec.RejectPolicy, ...) is declared once, in
// the package that uses it, with the list of its values in the order its
// messages name them; its Check method calls one of the functions here, so
// a value is valid exactly when the message would list it.
package enum

import (
	"fmt"
	"slices"
	"strings"
)

// Check returns nil when v is one of values, and otherwise the error
// `want a, b or c, not "v"`.
func Check[T ~string](v T, values []T) error {
	if slices.Contains(values, v) {
		return nil
	}
	return fmt.Errorf("want %s, not %q", List(values), v)
}

// CheckNamed returns nil when v is one of values, and otherwise the error
// `unknown <what> "v" (want a, b or c)`.
func CheckNamed[T ~string](what string, v T, values []T) error {
	if slices.Contains(values, v) {
		return nil
	}
	return fmt.Errorf("unknown %s %q (want %s)", what, v, List(values))
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
