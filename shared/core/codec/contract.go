package codec

import (
	"errors"
	"fmt"

	"github.com/sluice-etl/sluice/shared/core/enum"
)

// A schema contract says what a decoder does when the input's columns or
// keys differ from the requested ones. Its zero value is the behaviour
// each format had before contracts: an unknown column or key is ignored;
// a requested CSV column the header lacks fails at the header, and an
// absent JSON key reads as RawMissing (null).
//
// The CSV header (or CSVOptions.Columns, without a header) is known once,
// so CSV failures happen when the decoder is made; JSON keys are known per
// record, so JSON failures happen in Next (Decode for a message), at the
// first record that breaks the contract. A failure is an error wrapping
// ErrUnknownColumn or ErrMissingColumn that names the column or key, the
// field that reads a missing one, and where; a reject is a record whose
// Err wraps ErrUnknownColumn.

// UnknownPolicy says what becomes of an unknown column or key: a CSV
// header name, or a top-level key of a JSON or JSON Lines object, that no
// requested column names.
type UnknownPolicy string

// Unknown column policies.
const (
	// UnknownIgnore skips it: the default.
	UnknownIgnore UnknownPolicy = "ignore"
	// UnknownReject rejects a record that has it: for CSV, a row whose
	// value in the column is not empty; for JSON, an object with the key
	// (whatever its value, null included).
	UnknownReject UnknownPolicy = "reject"
	// UnknownFail fails: for CSV at the header, for JSON at the first
	// object with the key.
	UnknownFail UnknownPolicy = "fail"
)

// UnknownPolicies are the unknown column policies; "" is ignore.
var UnknownPolicies = enum.Set[UnknownPolicy]{Values: []UnknownPolicy{UnknownIgnore, UnknownReject, UnknownFail}, EmptyOK: true}

// Check validates an unknown column policy against UnknownPolicies.
func (p UnknownPolicy) Check() error { return UnknownPolicies.Check(p) }

// MissingPolicy says what becomes of a requested column or key the input
// lacks: a CSV column not in the header, or a key absent from a JSON
// object (a key whose value is null is not absent).
type MissingPolicy string

// Missing column policies. "" is the format's own behaviour: fail for
// CSV, null for JSON and JSON Lines.
const (
	// MissingFail fails: for CSV at the header, for JSON at the first
	// object without the key.
	MissingFail MissingPolicy = "fail"
	// MissingNull reads the column or key as RawMissing, which the
	// transform reads as null.
	MissingNull MissingPolicy = "null"
)

// MissingPolicies are the missing column policies; "" is the format's
// default.
var MissingPolicies = enum.Set[MissingPolicy]{Values: []MissingPolicy{MissingFail, MissingNull}, EmptyOK: true}

// Check validates a missing column policy against MissingPolicies.
func (p MissingPolicy) Check() error { return MissingPolicies.Check(p) }

// Contract errors. A rejected record's Err wraps ErrUnknownColumn; an
// error that stops the decoder wraps one of them.
var (
	ErrUnknownColumn = errors.New("unknown column")
	ErrMissingColumn = errors.New("missing column")
)

// Contract is a decoder's schema contract.
type Contract struct {
	// Unknown applies to every unknown column or key.
	Unknown UnknownPolicy
	// Missing holds the policy of each requested column, by index; a
	// column past its end, or "", has the format's default.
	Missing []MissingPolicy
	// Fields names, by requested column, the field an error about a
	// missing column names: the one that reads it and decided its policy.
	Fields []string
}

// missing is the policy of requested column i, "" for the default.
func (c *Contract) missing(i int) MissingPolicy {
	if i < len(c.Missing) {
		return c.Missing[i]
	}
	return ""
}

// field is the field named for requested column i, or "".
func (c *Contract) field(i int) string {
	if i < len(c.Fields) {
		return c.Fields[i]
	}
	return ""
}

// missingReason says why requested column i, which the input lacks,
// fails: the field that reads it, and its policy. what is "column" or
// "key".
func (c *Contract) missingReason(i int, what string) string {
	field := ""
	if f := c.field(i); f != "" {
		field = fmt.Sprintf("field %q reads it, and ", f)
	}
	if c.missing(i) == MissingFail {
		return field + "its missing policy is fail"
	}
	return field + "a missing " + what + " fails by default (missing: null reads it as null)"
}

// csvMissingReason is missingReason after a "; ", or "" when the contract
// neither names the field nor sets the policy: the header error is then
// worded as before contracts.
func (c *Contract) csvMissingReason(i int) string {
	if c.field(i) == "" && c.missing(i) == "" {
		return ""
	}
	return "; " + c.missingReason(i, "column")
}

// DecoderOptions are the options every decoder takes.
type DecoderOptions struct {
	// Contract is the schema contract; the zero value keeps each format's
	// behaviour before contracts.
	Contract Contract
	// UnknownKey, if set, is called by the JSON and JSON Lines decoders
	// with each top-level key of an object that no requested column
	// names, unquoted, before the contract judges the record. With no
	// requested columns it sees every key: how sluice init finds them.
	// The slice is valid only during the call.
	UnknownKey func(key []byte)
}

func decoderOptions(optFns []func(*DecoderOptions)) DecoderOptions {
	if len(optFns) == 0 {
		return DecoderOptions{} // without an allocation for the options
	}
	o := new(DecoderOptions)
	for _, fn := range optFns {
		fn(o)
	}
	return *o
}

// columnError is a contract failure: its text says what happened in the
// decoder's words, and it wraps ErrUnknownColumn or ErrMissingColumn.
type columnError struct {
	kind error
	msg  string
}

func (e *columnError) Error() string { return e.msg }
func (e *columnError) Unwrap() error { return e.kind }

func contractErr(kind error, format string, args ...any) error {
	return &columnError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// keyChecks is the contract of an object parser: the keys that break it
// are found while the object is parsed, and check judges the record.
type keyChecks struct {
	unknown UnknownPolicy // ignore is ""
	// failCols are the requested columns whose absence fails.
	failCols []int
	contract Contract
	// on is set when there is anything to check.
	on bool

	// The first unknown key of the object being parsed, and how many
	// there are.
	firstUnknown []byte
	nUnknown     int
}

func newKeyChecks(c Contract, ncols int) keyChecks {
	k := keyChecks{contract: c}
	if c.Unknown == UnknownReject || c.Unknown == UnknownFail {
		k.unknown = c.Unknown
	}
	for i := range ncols {
		if c.missing(i) == MissingFail {
			k.failCols = append(k.failCols, i)
		}
	}
	k.on = k.unknown != "" || len(k.failCols) > 0
	return k
}

// reset starts a new object.
func (k *keyChecks) reset() {
	k.firstUnknown = k.firstUnknown[:0]
	k.nUnknown = 0
}

// sawUnknown notes an unknown key (unquoted).
func (k *keyChecks) sawUnknown(key []byte) {
	if k.nUnknown == 0 {
		k.firstUnknown = append(k.firstUnknown[:0], key...)
	}
	k.nUnknown++
}

// check judges an object parsed without error into fields against the
// contract. It returns the record's error, for a reject, or the error
// that stops the decoder; a failure comes before a reject.
func (k *keyChecks) check(fields []RawField, columns []string) (rec, fatal error) {
	if k.nUnknown > 0 && k.unknown == UnknownFail {
		return nil, contractErr(ErrUnknownColumn, "key %q is not read by any field%s (source.unknown_columns is fail)", k.firstUnknown, k.more())
	}
	for _, i := range k.failCols {
		if fields[i].Kind == RawMissing {
			return nil, contractErr(ErrMissingColumn, "key %q is absent: %s", columns[i], k.contract.missingReason(i, "key"))
		}
	}
	if k.nUnknown > 0 {
		return recErr(ErrUnknownColumn, "key %q is not read by any field%s", k.firstUnknown, k.more()), nil
	}
	return nil, nil
}

// more counts the unknown keys after the first.
func (k *keyChecks) more() string {
	switch n := k.nUnknown - 1; n {
	case 0:
		return ""
	case 1:
		return " (nor is 1 other key)"
	default:
		return fmt.Sprintf(" (nor are %d other keys)", n)
	}
}
