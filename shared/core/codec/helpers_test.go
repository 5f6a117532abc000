package codec_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/sluice-etl/sluice/shared/core/codec"
)

// missing and friends render non-string raw fields in the expectation
// tables; a RawString field renders as its bytes.
const missing = "<missing>"

func fieldText(f codec.RawField) string {
	switch f.Kind {
	case codec.RawMissing:
		return missing
	case codec.RawString:
		return string(f.Bytes)
	case codec.RawNumber:
		return "num:" + string(f.Bytes)
	case codec.RawBool:
		return "bool:" + string(f.Bytes)
	case codec.RawNull:
		if f.Bytes != nil {
			return "null:" + string(f.Bytes) // a null must carry no bytes
		}
		return "null"
	case codec.RawJSON:
		return "json:" + string(f.Bytes)
	}
	return fmt.Sprintf("kind%d:%s", f.Kind, f.Bytes)
}

// rec is a decoded record, copied out of the decoder's buffers.
type rec struct {
	Index, Line, Offset int64
	// Fields is nil for a record with Err: a bad record carries no fields.
	Fields []string
	// Raw is compared only when the expectation sets it.
	Raw string
	Err error
	// Msg, when set, must appear in Err's text.
	Msg string
}

// result is everything a decoder produced over its whole input.
type result struct {
	Recs  []rec
	Err   error // the terminal error; nil when the decoder ended with io.EOF
	End   int64
	Lines int64
}

// drain reads d to the end. A record with Err must have every field
// RawMissing, which drain checks.
func drain(t testing.TB, d codec.Decoder) result {
	t.Helper()
	var res result
	for n := 0; ; n++ {
		if n > 1_000_000 {
			t.Fatalf("decoder does not stop")
		}
		r, err := d.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				res.Err = err
			}
			if r != nil {
				t.Fatalf("Next returned a record together with error %v", err)
			}
			break
		}
		got := rec{Index: r.Index, Line: r.Line, Offset: r.Offset, Raw: string(r.Raw), Err: r.Err}
		if r.Err == nil {
			got.Fields = []string{}
			for _, f := range r.Fields {
				got.Fields = append(got.Fields, fieldText(f))
			}
		} else {
			for i, f := range r.Fields {
				if f.Kind != codec.RawMissing || f.Bytes != nil {
					t.Fatalf("record %d has Err %v but field %d is %q", r.Index, r.Err, i, fieldText(f))
				}
			}
		}
		res.Recs = append(res.Recs, got)
	}
	res.End, res.Lines = d.End(), d.Lines()
	return res
}

// checkRecs compares records exactly: position, fields, error sentinel and,
// where the expectation sets it, Raw.
func checkRecs(t *testing.T, got, want []rec) {
	t.Helper()
	for i := range max(len(got), len(want)) {
		if i >= len(got) {
			t.Errorf("record %d missing, want %+v", i+1, want[i])
			continue
		}
		if i >= len(want) {
			t.Errorf("unexpected record %d: %+v", i+1, got[i])
			continue
		}
		g, w := got[i], want[i]
		if g.Index != w.Index || g.Line != w.Line || g.Offset != w.Offset {
			t.Errorf("record %d: index/line/offset = %d/%d/%d, want %d/%d/%d", i+1, g.Index, g.Line, g.Offset, w.Index, w.Line, w.Offset)
		}
		switch {
		case w.Err == nil && g.Err != nil:
			t.Errorf("record %d: unexpected error %v (raw %q)", i+1, g.Err, g.Raw)
		case w.Err != nil && !errors.Is(g.Err, w.Err):
			t.Errorf("record %d: error %v, want one wrapping %v", i+1, g.Err, w.Err)
		}
		if w.Err == nil && !slices.Equal(g.Fields, w.Fields) {
			t.Errorf("record %d: fields %q, want %q", i+1, g.Fields, w.Fields)
		}
		if w.Msg != "" && (g.Err == nil || !strings.Contains(g.Err.Error(), w.Msg)) {
			t.Errorf("record %d: error %v, want it to mention %q", i+1, g.Err, w.Msg)
		}
		if w.Raw != "" && g.Raw != w.Raw {
			t.Errorf("record %d: raw %q, want %q", i+1, g.Raw, w.Raw)
		}
	}
}

// sameResult compares two results in full, error texts included.
func sameResult(a, b result) string {
	if errText(a.Err) != errText(b.Err) || a.End != b.End || a.Lines != b.Lines || len(a.Recs) != len(b.Recs) {
		return fmt.Sprintf("err %q/%q end %d/%d lines %d/%d records %d/%d",
			errText(a.Err), errText(b.Err), a.End, b.End, a.Lines, b.Lines, len(a.Recs), len(b.Recs))
	}
	for i := range a.Recs {
		x, y := a.Recs[i], b.Recs[i]
		if x.Index != y.Index || x.Line != y.Line || x.Offset != y.Offset || x.Raw != y.Raw ||
			errText(x.Err) != errText(y.Err) || !slices.Equal(x.Fields, y.Fields) {
			return fmt.Sprintf("record %d differs:\n %+v\n %+v", i+1, x, y)
		}
	}
	return ""
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// readers returns ways of delivering the same bytes: all at once, a byte at
// a time, half of each request, data together with io.EOF, and uneven
// chunks. A decoder must give the same results for all of them.
func readers(data []byte) map[string]io.Reader {
	return map[string]io.Reader{
		"bulk":    bytes.NewReader(data),
		"onebyte": iotest.OneByteReader(bytes.NewReader(data)),
		"half":    iotest.HalfReader(bytes.NewReader(data)),
		"dataerr": iotest.DataErrReader(bytes.NewReader(data)),
		"chunky":  &chunkyReader{data: data},
	}
}

// chunkyReader returns 1, 2, 3 ... 7, 1, 2 ... bytes per call, and
// sometimes (0, nil).
type chunkyReader struct {
	data []byte
	n    int
}

func (c *chunkyReader) Read(p []byte) (int, error) {
	c.n++
	if c.n%5 == 0 {
		return 0, nil
	}
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	k := min(len(p), len(c.data), c.n%7+1)
	copy(p, c.data[:k])
	c.data = c.data[k:]
	return k, nil
}

// lineStarts lists the offsets at which lines of s begin (after each '\n').
func lineStarts(s string) []int {
	var out []int
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' && i+1 < len(s) {
			out = append(out, i+1)
		}
	}
	return out
}
