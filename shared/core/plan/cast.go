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
		if !ok {
			if raw {
				// JSON numbers such as 12.0 or 1e3 that hold an integer.
				if fl, ferr := strconv.ParseFloat(string(b), 64); ferr == nil && fl == math.Trunc(fl) && math.Abs(fl) < 1<<63 {
					*dst = record.IntValue(int64(fl))
					return ""
				}
			}
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
