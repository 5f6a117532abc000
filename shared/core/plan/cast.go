package plan

import (
	"bytes"
	"math"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sluice-etl/sluice/shared/core/record"
)

// parseText converts cleaned text to a value of the field's kind. It is
// also used to read rule bounds, so they follow the field's own layouts.
func (f *fieldPlan) parseText(b []byte, raw bool) (record.Value, string) {
	var v record.Value
	reason := f.parseInto(&v, b, raw)
	return v, reason
}

// parseInto is parseText writing into dst, for the per-record path. It
// returns a reason when b is not a valid value, and then leaves dst alone.
func (f *fieldPlan) parseInto(dst *record.Value, b []byte, raw bool) string {
	switch f.kind {
	case record.String:
		if record.IsPlain(b) {
			*dst = record.Value{Kind: record.String, Bytes: b, Int: record.PlainString}
			return ""
		}
		if !utf8.Valid(b) {
			return "invalid UTF-8"
		}
		*dst = record.Value{Kind: record.String, Bytes: b}
		return ""
	case record.Int:
		i, ok := parseInt(b)
		if !ok && raw {
			// JSON numbers such as 12.0 or 1e3 that hold an integer.
			i, ok = jsonInt(b)
		}
		if !ok {
			return "not an integer"
		}
		*dst = record.Value{Kind: record.Int, Int: i}
		return ""
	case record.Float:
		fl, err := strconv.ParseFloat(string(b), 64)
		if err != nil || math.IsNaN(fl) || math.IsInf(fl, 0) {
			return "not a number"
		}
		*dst = record.Value{Kind: record.Float, Float: fl}
		if plainDecimal(b) {
			dst.Bytes = b // exact source text; encoders may write it as is
		}
		return ""
	case record.Decimal:
		u, reason := parseDecimal(b, f.scale)
		if reason != "" {
			return reason
		}
		*dst = record.DecimalValue(u)
		return ""
	case record.Bool:
		switch string(bytes.ToLower(b)) {
		case "true", "t", "yes", "y", "1":
			*dst = record.BoolValue(true)
			return ""
		case "false", "f", "no", "n", "0":
			*dst = record.BoolValue(false)
			return ""
		}
		return "not a boolean"
	case record.Timestamp:
		t, ok := f.parseTime(b)
		if !ok {
			return "not a timestamp in the accepted layouts"
		}
		*dst = record.TimestampValue(t.UnixMicro())
		return ""
	case record.Date:
		t, ok := f.parseTime(b)
		if !ok {
			return "not a date in the accepted layouts"
		}
		y, m, d := t.Date()
		*dst = record.DateValue(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
		return ""
	}
	return "unsupported type"
}

// parseInt parses an optionally signed decimal integer without the
// allocation-free but slower generic path of strconv.
func parseInt(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		if len(b) > 19 {
			i, err := strconv.ParseInt(string(b), 10, 64)
			return i, err == nil
		}
		return 0, false
	}
	var u uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

// jsonInt reads a JSON number whose exact value is a whole number within
// signed 64 bits, written with a fraction or an exponent (12.0, 1e3,
// 1.5e1, 100e-2). It works on the decimal digits, not on a float64, so a
// value that underflows (1e-400) or rounds to a whole number
// (1.0000000000000000001) is not an integer, as 1e-7 is not.
func jsonInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	intPart, b := leadingDigits(b)
	var frac []byte
	if len(b) > 0 && b[0] == '.' {
		frac, b = leadingDigits(b[1:])
	}
	exp, ok := 0, true
	if len(b) > 0 && (b[0] == 'e' || b[0] == 'E') {
		exp, ok = jsonExponent(b[1:])
		b = nil
	}
	if !ok || len(b) > 0 || len(intPart) == 0 {
		return 0, false
	}
	// The value is the digits of intPart and frac, times 10^(exp-len(frac)).
	// Leading zeros are dropped, and a run of zeros is held back until a
	// digit follows it: trailing zeros only scale the value.
	var buf [19]byte
	digits, zeros := buf[:0], 0
	for _, part := range [][]byte{intPart, frac} {
		for _, c := range part {
			switch {
			case c == '0' && len(digits) == 0:
			case c == '0':
				zeros++
			case len(digits)+zeros >= len(buf):
				return 0, false // more significant digits than an int64 has
			default:
				for ; zeros > 0; zeros-- {
					digits = append(digits, '0')
				}
				digits = append(digits, c)
			}
		}
	}
	if len(digits) == 0 {
		return 0, true // every digit is zero
	}
	return scaledInt(digits, exp-len(frac)+zeros, neg)
}

// leadingDigits splits b after its leading ASCII digits.
func leadingDigits(b []byte) (digits, rest []byte) {
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return b[:i], b[i:]
}

// jsonExponent reads the exponent of a JSON number. One beyond ±10⁶ is
// clamped there: it is far outside what any int64 can be scaled by.
func jsonExponent(b []byte) (int, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		b = b[1:]
	}
	digits, rest := leadingDigits(b)
	if len(digits) == 0 || len(rest) > 0 {
		return 0, false
	}
	e := 0
	for _, c := range digits {
		e = min(e*10+int(c-'0'), 1_000_000)
	}
	if neg {
		e = -e
	}
	return e, true
}

// scaledInt is digits × 10^exp with its sign, when that is a whole number
// within signed 64 bits. digits has no leading or trailing zero.
func scaledInt(digits []byte, exp int, neg bool) (int64, bool) {
	if exp < 0 || len(digits)+exp > 19 {
		return 0, false
	}
	var u uint64
	for _, c := range digits {
		u = u*10 + uint64(c-'0')
	}
	for ; exp > 0; exp-- {
		u *= 10
	}
	switch {
	case neg && u <= 1<<63:
		return int64(-u), true
	case !neg && u <= math.MaxInt64:
		return int64(u), true
	}
	return 0, false
}

func (f *fieldPlan) parseTime(b []byte) (time.Time, bool) {
	for _, l := range f.layouts {
		switch l {
		case "unix", "unix_ms", "unix_us":
			n, err := strconv.ParseInt(string(b), 10, 64)
			if err != nil {
				continue
			}
			// In the field's time zone, not the machine's: a date takes
			// its day from it.
			switch l {
			case "unix":
				return time.Unix(n, 0).In(f.loc), true
			case "unix_ms":
				return time.UnixMilli(n).In(f.loc), true
			default:
				return time.UnixMicro(n).In(f.loc), true
			}
		}
		if t, err := time.ParseInLocation(l, string(b), f.loc); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// parseDecimal parses a plain decimal number exactly into an integer scaled
// by 10^scale. Extra fractional digits must be zeros.
func parseDecimal(b []byte, scale int) (int64, string) {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, "not a decimal"
	}
	var u uint64
	digits, frac, seenDot := 0, 0, false
	const limit = uint64(math.MaxInt64)
	for _, c := range b {
		switch {
		case c == '.' && !seenDot:
			seenDot = true
		case c >= '0' && c <= '9':
			digits++
			if seenDot {
				frac++
				if frac > scale {
					if c != '0' {
						return 0, "more decimal places than the scale allows"
					}
					continue
				}
			}
			if u > (limit-uint64(c-'0'))/10 {
				return 0, "decimal out of range"
			}
			u = u*10 + uint64(c-'0')
		default:
			return 0, "not a decimal"
		}
	}
	if digits == 0 {
		return 0, "not a decimal"
	}
	for ; frac < scale; frac++ {
		if u > limit/10 {
			return 0, "decimal out of range"
		}
		u *= 10
	}
	if neg {
		return -int64(u), ""
	}
	return int64(u), ""
}

// clean steps operate on text, appending results to the processor's arena.

func trimSpace(b []byte) []byte { return bytes.TrimSpace(b) }

func lowerASCII(arena *[]byte, b []byte) []byte {
	i := 0
	for ; i < len(b); i++ {
		c := b[i]
		if c >= utf8.RuneSelf {
			start := len(*arena)
			*arena = append(*arena, bytes.ToLower(b)...)
			return (*arena)[start:]
		}
		if 'A' <= c && c <= 'Z' {
			break
		}
	}
	if i == len(b) {
		return b
	}
	start := len(*arena)
	*arena = append(*arena, b...)
	out := (*arena)[start:]
	for j := i; j < len(out); j++ {
		c := out[j]
		if c >= utf8.RuneSelf {
			*arena = append((*arena)[:start], bytes.ToLower(b)...)
			return (*arena)[start:]
		}
		if 'A' <= c && c <= 'Z' {
			out[j] = c + 'a' - 'A'
		}
	}
	return out
}

func upper(arena *[]byte, b []byte) []byte {
	start := len(*arena)
	*arena = append(*arena, bytes.ToUpper(b)...)
	return (*arena)[start:]
}

func collapseSpaces(arena *[]byte, b []byte) []byte {
	start := len(*arena)
	space := false
	for _, r := range string(b) {
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if space && len(*arena) > start {
			*arena = append(*arena, ' ')
		}
		space = false
		*arena = utf8.AppendRune(*arena, r)
	}
	return (*arena)[start:]
}

// plainDecimal reports whether b is -?digits(.digits)? with no redundant
// leading zero: text that is both a valid JSON number and a faithful
// rendering of the float parsed from it.
func plainDecimal(b []byte) bool {
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 17 || (b[0] == '0' && len(b) > 1 && b[1] != '.') {
		return false
	}
	dot := -1
	for i, c := range b {
		if c == '.' {
			if dot >= 0 || i == 0 {
				return false
			}
			dot = i
			continue
		}
		if c < '0' || c > '9' {
			return false
		}
	}
	return dot != len(b)-1
}
