// Package record is sluice's in-memory record model: a schema of typed
// fields and rows of compact, allocation-free values.
//
// A Row's byte slices may point into a decoder's buffer or a per-row arena;
// they are valid until the next row is produced. Code that keeps a value
// longer must copy it.
package record

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Kind is the type of a field or value.
type Kind uint8

// The kinds a field can have.
const (
	Null Kind = iota
	String
	Int
	Float
	Decimal
	Bool
	Timestamp
	Date
)

var kindNames = [...]string{"null", "string", "int", "float", "decimal", "bool", "timestamp", "date"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ParseKind maps a type name as written in a spec to a Kind.
func ParseKind(s string) (Kind, bool) {
	for i, n := range kindNames {
		if n == s && i != 0 {
			return Kind(i), true
		}
	}
	return Null, false
}

// Field describes one column of a schema.
type Field struct {
	Name string
	Kind Kind
	// Scale is the number of fractional digits of a Decimal.
	Scale int
}

// Schema is an ordered list of fields.
type Schema struct {
	Fields []Field
}

// Index returns the position of the named field, or -1.
func (s *Schema) Index(name string) int {
	for i, f := range s.Fields {
		if f.Name == name {
			return i
		}
	}
	return -1
}

// Value is one typed value. Which member holds the data depends on Kind:
//
//	String            Bytes
//	Int, Bool         Int (Bool: 0 or 1)
//	Float             Float (Bytes may hold the exact source text it was
//	                  parsed from, a plain decimal, for encoders to reuse)
//	Decimal           Int, scaled by 10^Field.Scale
//	Timestamp         Int, microseconds since the Unix epoch, UTC
//	Date              Int, days since the Unix epoch
type Value struct {
	Kind  Kind
	Int   int64
	Float float64
	Bytes []byte
}

// PlainString, in the Int of a String value, says its bytes are printable
// ASCII with no quote or backslash: valid UTF-8 that needs no escaping in
// JSON. Writers may copy such bytes as they are.
const PlainString = 1

// IsPlain reports whether b is printable ASCII without '"' or '\\'. It
// checks eight bytes at a time.
func IsPlain(b []byte) bool {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		if !plain8(binary.LittleEndian.Uint64(b[i:])) {
			return false
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

const (
	lo7 = 0x0101010101010101
	hi7 = 0x8080808080808080
)

// plain8 reports whether none of the eight bytes in x is a control byte,
// '"', '\\' or non-ASCII. (It may report false for a plain word, never
// true for one that is not.)
func plain8(x uint64) bool {
	ctl := (x - lo7*0x20) & ^x & hi7
	q := x ^ (lo7 * '"')
	bs := x ^ (lo7 * '\\')
	del := x ^ (lo7 * 0x7f)
	return (ctl | ((q - lo7) &^ q & hi7) | ((bs - lo7) &^ bs & hi7) | ((del - lo7) &^ del & hi7) | x&hi7) == 0
}

// Constructors for values.
func StringValue(b []byte) Value    { return Value{Kind: String, Bytes: b} }
func IntValue(i int64) Value        { return Value{Kind: Int, Int: i} }
func FloatValue(f float64) Value    { return Value{Kind: Float, Float: f} }
func DecimalValue(u int64) Value    { return Value{Kind: Decimal, Int: u} }
func TimestampValue(us int64) Value { return Value{Kind: Timestamp, Int: us} }
func DateValue(days int64) Value    { return Value{Kind: Date, Int: days} }
func BoolValue(b bool) Value {
	if b {
		return Value{Kind: Bool, Int: 1}
	}
	return Value{Kind: Bool}
}

// IsNull reports whether v is null.
func (v Value) IsNull() bool { return v.Kind == Null }

// Time returns a Timestamp or Date value as a UTC time.
func (v Value) Time() time.Time {
	switch v.Kind {
	case Timestamp:
		return time.UnixMicro(v.Int).UTC()
	case Date:
		return time.Unix(v.Int*86400, 0).UTC()
	}
	return time.Time{}
}

// Pow10 holds 10^i for the scales a Decimal supports (0..18).
var Pow10 = [...]int64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}

// MaxScale is the largest Decimal scale.
const MaxScale = 18

// AppendText appends the canonical text form of v (as used in CSV output,
// partition values and dedup keys). scale applies to Decimal values.
func AppendText(dst []byte, v Value, scale int) []byte {
	switch v.Kind {
	case String:
		return append(dst, v.Bytes...)
	case Int:
		return strconv.AppendInt(dst, v.Int, 10)
	case Float:
		return AppendFloat(dst, v.Float)
	case Decimal:
		return AppendDecimal(dst, v.Int, scale)
	case Bool:
		if v.Int != 0 {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case Timestamp:
		return AppendTimestamp(dst, v.Int)
	case Date:
		return time.Unix(v.Int*86400, 0).UTC().AppendFormat(dst, time.DateOnly)
	}
	return dst
}

// AppendOutput is AppendText for writers of output files: a Float keeps
// the exact text it was parsed from, when it has one.
func AppendOutput(dst []byte, v Value, scale int) []byte {
	if v.Kind == Float && v.Bytes != nil {
		return append(dst, v.Bytes...)
	}
	return AppendText(dst, v, scale)
}

// AppendFloat formats f the way encoding/json does: plain notation for
// moderate magnitudes, exponent notation otherwise.
func AppendFloat(dst []byte, f float64) []byte {
	abs := math.Abs(f)
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		return strconv.AppendFloat(dst, f, 'e', -1, 64)
	}
	return strconv.AppendFloat(dst, f, 'f', -1, 64)
}

// AppendDecimal formats a scaled integer with exactly scale fractional digits.
func AppendDecimal(dst []byte, u int64, scale int) []byte {
	if scale == 0 {
		return strconv.AppendInt(dst, u, 10)
	}
	neg := u < 0
	var mag uint64
	if neg {
		mag = uint64(-(u + 1)) + 1
		dst = append(dst, '-')
	} else {
		mag = uint64(u)
	}
	p := uint64(Pow10[scale])
	dst = strconv.AppendUint(dst, mag/p, 10)
	dst = append(dst, '.')
	frac := mag % p
	var tmp [20]byte
	s := strconv.AppendUint(tmp[:0], frac, 10)
	for i := len(s); i < scale; i++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// AppendTimestamp formats microseconds since the epoch as RFC 3339 in UTC
// with microsecond precision.
func AppendTimestamp(dst []byte, us int64) []byte {
	return time.UnixMicro(us).UTC().AppendFormat(dst, "2006-01-02T15:04:05.000000Z")
}
