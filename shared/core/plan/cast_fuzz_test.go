package plan

import (
	"math/big"
	"testing"
)

// FuzzJSONInt checks jsonInt against exact rational arithmetic: a JSON
// number is an int exactly when its value is a whole number within
// signed 64 bits, and then it is that number.
func FuzzJSONInt(f *testing.F) {
	for _, s := range []string{"12.0", "1e3", "1e-7", "1e-400", "2e-324", "-0.0", "100e-2", "1.0000000000000000001",
		"9.223372036854775807e18", "-9223372036854775808.0", "9.223372036854775808e18", "10000000000000000000000000e-10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !jsonNumber(s) || len(s) > 200 {
			return
		}
		got, ok := jsonInt([]byte(s))
		q, _ := new(big.Rat).SetString(s)
		want := q.IsInt() && q.Num().IsInt64()
		if ok != want || (ok && got != q.Num().Int64()) {
			t.Fatalf("jsonInt(%q) = %d, %v; the value is %s", s, got, ok, q.RatString())
		}
	})
}

// jsonNumber reports whether s is a number in JSON's grammar with an
// exponent of at most three digits (big.Rat would build a huge power).
func jsonNumber(s string) bool {
	i := 0
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i, n = i+1, n+1
		}
		return n
	}
	if i < len(s) && s[i] == '-' {
		i++
	}
	if digits() == 0 {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if n := digits(); n == 0 || n > 3 {
			return false
		}
	}
	return i == len(s)
}
