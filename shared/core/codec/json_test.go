package codec_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/sluice-etl/sluice/shared/core/codec"
)

type jsonCase struct {
	name string
	in   string
	cols []string // default: a, b
	max  int
	rng  codec.Range // JSON Lines only
	want []rec
	// err is the terminal error's sentinel; errAny accepts any error.
	err    error
	errAny bool
	errMsg string
	end    int64 // -1: len(in)
	lines  int64 // JSON Lines only; -1 skips the check
}

func (c *jsonCase) columns() []string {
	if c.cols == nil {
		return []string{"a", "b"}
	}
	return c.cols
}

func (c *jsonCase) check(t *testing.T, res result) {
	t.Helper()
	checkRecs(t, res.Recs, c.want)
	switch {
	case c.err == nil && !c.errAny && res.Err != nil:
		t.Errorf("stream error %v, want io.EOF", res.Err)
	case c.err != nil && !errors.Is(res.Err, c.err):
		t.Errorf("stream error %v, want one wrapping %v", res.Err, c.err)
	case c.errAny && res.Err == nil:
		t.Errorf("no stream error, want one")
	}
	if c.errMsg != "" && (res.Err == nil || !strings.Contains(res.Err.Error(), c.errMsg)) {
		t.Errorf("stream error %v, want it to mention %q", res.Err, c.errMsg)
	}
	if c.err == nil && !c.errAny {
		end := c.end
		if end < 0 {
			end = int64(len(c.in))
		}
		if res.End != end {
			t.Errorf("End() = %d, want %d", res.End, end)
		}
	}
}

var jsonlCases = []jsonCase{
	{
		name: "one bad line among good ones",
		in:   "{\"a\":1,\"b\":\"x\"}\n{\"a\":2,\n{\"a\":3,\"b\":\"y\"}\n",
		want: []rec{
			{Index: 1, Line: 1, Offset: 0, Fields: []string{"num:1", "x"}, Raw: `{"a":1,"b":"x"}`},
			{Index: 2, Line: 2, Offset: 16, Err: codec.ErrInvalidJSON, Raw: `{"a":2,`, Msg: "invalid JSON"},
			{Index: 3, Line: 3, Offset: 24, Fields: []string{"num:3", "y"}},
		},
		end: -1, lines: 3,
	},
	{
		name: "lines that are not objects",
		in:   "[1,2]\n42\n\"s\"\nnull\ntrue\n{\"a\":1}\n",
		want: []rec{
			{Index: 1, Line: 1, Offset: 0, Err: codec.ErrNotObject, Raw: "[1,2]", Msg: "got an array"},
			{Index: 2, Line: 2, Offset: 6, Err: codec.ErrNotObject, Raw: "42", Msg: "got a number"},
			{Index: 3, Line: 3, Offset: 9, Err: codec.ErrNotObject, Msg: "got a string"},
			{Index: 4, Line: 4, Offset: 13, Err: codec.ErrNotObject, Msg: "got null"},
			{Index: 5, Line: 5, Offset: 18, Err: codec.ErrNotObject, Msg: "got a boolean"},
			{Index: 6, Line: 6, Offset: 23, Fields: []string{"num:1", missing}},
		},
		end: -1, lines: 6,
	},
	{
		name: "blank lines and CRLF",
		in:   "\n  \n{\"a\":1}\r\n\t\n{\"b\":2}\n\n",
		want: []rec{
			{Index: 1, Line: 3, Offset: 4, Fields: []string{"num:1", missing}},
			{Index: 2, Line: 5, Offset: 15, Fields: []string{missing, "num:2"}},
		},
		end: -1, lines: 6,
	},
	{
		name: "escaped strings and keys",
		in: `{"a":"caf\u00e9 \"q\" \\ \n \ud83d\ude00","b":"plain"}` + "\n" +
			`{"\u0061":"x","\u0062\u0062":1,"b":"\/"}` + "\n",
		want: []rec{
			{Index: 1, Line: 1, Offset: 0, Fields: []string{"café \"q\" \\ \n 😀", "plain"}},
			{Index: 2, Line: 2, Offset: 55, Fields: []string{"x", "/"}},
		},
		end: -1, lines: 2,
	},
	{
		name: "duplicate keys",
		in:   `{"a":1,"a":2}` + "\n" + `{"a":1,"\u0061":2}` + "\n" + `{"c":1,"c":2}` + "\n" + `{"a":1,"b":2}` + "\n",
		want: []rec{
			{Index: 1, Line: 1, Offset: 0, Err: codec.ErrInvalidJSON, Msg: "duplicate"},
			{Index: 2, Line: 2, Offset: 14, Err: codec.ErrInvalidJSON, Msg: "duplicate"},
			{Index: 3, Line: 3, Offset: 33, Err: codec.ErrInvalidJSON, Msg: "duplicate"},
			{Index: 4, Line: 4, Offset: 47, Fields: []string{"num:1", "num:2"}},
		},
		end: -1, lines: 4,
	},
	{
		name: "nested values are kept as JSON text",
		in:   `{"a":{ "x" : [1, 2] },"b":[{"y":null}],"c":{"skip":[1,{"d":2}]}}` + "\n",
		want: []rec{{Index: 1, Line: 1, Offset: 0, Fields: []string{`json:{ "x" : [1, 2] }`, `json:[{"y":null}]`}}},
		end:  -1, lines: 1,
	},
	{
		name: "numbers, booleans, null, missing",
		in: `{"a":-1.5e3,"b":0}` + "\n" + `{"a":123456789012345678901234567890}` + "\n" +
			`{"a":null,"b":true}` + "\n" + `{"b":false}` + "\n" + `{}` + "\n",
		want: []rec{
			{Index: 1, Line: 1, Offset: 0, Fields: []string{"num:-1.5e3", "num:0"}},
			{Index: 2, Line: 2, Offset: 19, Fields: []string{"num:123456789012345678901234567890", missing}},
			{Index: 3, Line: 3, Offset: 56, Fields: []string{"null", "bool:true"}},
			{Index: 4, Line: 4, Offset: 76, Fields: []string{missing, "bool:false"}},
			{Index: 5, Line: 5, Offset: 88, Fields: []string{missing, missing}},
		},
		end: -1, lines: 5,
	},
	{
		name: "line over max_record_bytes",
		in:   `{"a":"` + z(40) + `"}` + "\n" + `{"a":1}` + "\n",
		max:  32,
		want: []rec{
			{Index: 1, Line: 1, Offset: 0, Err: codec.ErrRecordTooLarge, Raw: `{"a":"` + z(27), Msg: "limit 32 bytes"},
			{Index: 2, Line: 2, Offset: 49, Fields: []string{"num:1", missing}},
		},
		end: -1, lines: 2,
	},
	{
		name: "line of exactly max_record_bytes",
		in:   `{"a":"` + z(24) + `"}` + "\n" + `{"a":"` + z(25) + `"}`,
		max:  32,
		want: []rec{
			{Index: 1, Line: 1, Offset: 0, Fields: []string{z(24), missing}},
			{Index: 2, Line: 2, Offset: 33, Err: codec.ErrRecordTooLarge},
		},
		end: -1, lines: -1,
	},
	{
		name: "data after the object",
		in:   `{"a":1} x` + "\n" + `{"a":1}{"a":2}` + "\n" + `{"a":3}  ` + "\n",
		want: []rec{
			{Index: 1, Line: 1, Offset: 0, Err: codec.ErrInvalidJSON},
			{Index: 2, Line: 2, Offset: 10, Err: codec.ErrInvalidJSON, Msg: "unexpected data after the object"},
			{Index: 3, Line: 3, Offset: 25, Fields: []string{"num:3", missing}},
		},
		end: -1, lines: 3,
	},
	{
		name: "syntax errors",
		in:   `{"a" 1}` + "\n" + `{a:1}` + "\n" + `{"a":1,}` + "\n" + `{"a":"x` + "\n" + `{"a":2}` + "\n",
		want: []rec{
			{Index: 1, Line: 1, Offset: 0, Err: codec.ErrInvalidJSON},
			{Index: 2, Line: 2, Offset: 8, Err: codec.ErrInvalidJSON},
			{Index: 3, Line: 3, Offset: 14, Err: codec.ErrInvalidJSON},
			{Index: 4, Line: 4, Offset: 23, Err: codec.ErrInvalidJSON},
			{Index: 5, Line: 5, Offset: 31, Fields: []string{"num:2", missing}},
		},
		end: -1, lines: 5,
	},
	{
		name: "invalid UTF-8 in a string",
		in:   "{\"a\":\"\xff\"}\n{\"a\":\"ok\"}\n",
		want: []rec{
			{Index: 1, Line: 1, Offset: 0, Err: codec.ErrInvalidJSON, Msg: "UTF-8"},
			{Index: 2, Line: 2, Offset: 10, Fields: []string{"ok", missing}},
		},
		end: -1, lines: 2,
	},
	{
		name: "BOM stripped",
		in:   "\xef\xbb\xbf{\"a\":1}\n",
		want: []rec{{Index: 1, Line: 1, Offset: 3, Fields: []string{"num:1", missing}}},
		end:  -1, lines: 1,
	},
	{
		name: "last line without newline",
		in:   "{\"a\":1}\n{\"b\":\"z\"}",
		want: []rec{
			{Index: 1, Line: 1, Offset: 0, Fields: []string{"num:1", missing}},
			{Index: 2, Line: 2, Offset: 8, Fields: []string{missing, "z"}, Raw: `{"b":"z"}`},
		},
		end: -1, lines: -1,
	},
	{name: "empty input", in: "", end: 0, lines: 0},
	{
		name: "range: Start and Limit",
		in:   "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n",
		rng:  codec.Range{Start: 50, Limit: 58},
		want: []rec{{Index: 1, Line: 1, Offset: 50, Fields: []string{"num:1", missing}}},
		end:  58, lines: 1,
	},
}

func TestJSONLDecoder(t *testing.T) {
	for _, c := range jsonlCases {
		t.Run(c.name, func(t *testing.T) {
			d := codec.NewJSONLDecoder(strings.NewReader(c.in), c.columns(), c.max, c.rng)
			res := drain(t, d)
			c.check(t, res)
			if c.lines >= 0 && res.Lines != c.lines {
				t.Errorf("Lines() = %d, want %d", res.Lines, c.lines)
			}
		})
	}
}

func TestJSONLReaders(t *testing.T) {
	for _, c := range jsonlCases {
		for _, max := range []int{0, 8, 32} {
			if max == 0 {
				max = c.max
			}
			want := drain(t, codec.NewJSONLDecoder(strings.NewReader(c.in), c.columns(), max, c.rng))
			for name, r := range readers([]byte(c.in)) {
				got := drain(t, codec.NewJSONLDecoder(r, c.columns(), max, c.rng))
				if diff := sameResult(want, got); diff != "" {
					t.Errorf("%s/max %d/%s: differs from bulk read: %s", c.name, max, name, diff)
				}
			}
		}
	}
}

func TestJSONLRangeSplit(t *testing.T) {
	in := "{\"a\":1}\n\n{\"a\":2,\n[3]\n" + `{"a":"` + z(40) + `"}` + "\n{\"a\":4}\n{\"a\":5}"
	cols := []string{"a"}
	whole := drain(t, codec.NewJSONLDecoder(strings.NewReader(in), cols, 32, codec.Range{}))
	for k := 1; k < len(in); k++ {
		d1 := codec.NewJSONLDecoder(strings.NewReader(in), cols, 32, codec.Range{Limit: int64(k)})
		first := drain(t, d1)
		start := first.End
		if start < int64(k) {
			t.Fatalf("split %d: first chunk ended at %d, before its limit", k, start)
		}
		second := drain(t, codec.NewJSONLDecoder(strings.NewReader(in[start:]), cols, 32, codec.Range{Start: start}))
		joined := result{Recs: append([]rec(nil), first.Recs...), End: second.End, Lines: first.Lines + second.Lines}
		for _, r := range second.Recs {
			r.Index += int64(len(first.Recs))
			r.Line += first.Lines
			joined.Recs = append(joined.Recs, r)
		}
		if diff := sameResult(whole, joined); diff != "" {
			t.Fatalf("split at %d: %s", k, diff)
		}
	}
}

var jsonCases = []jsonCase{
	{
		name: "array of objects",
		in:   `[{"a":1},{"a":2,"b":"x"}]`,
		want: []rec{
			{Index: 1, Line: 0, Offset: 1, Fields: []string{"num:1", missing}, Raw: `{"a":1}`},
			{Index: 2, Line: 0, Offset: 9, Fields: []string{"num:2", "x"}, Raw: `{"a":2,"b":"x"}`},
		},
		end: -1,
	},
	{
		name: "whitespace around elements",
		in:   " [ {\"a\":1} ,\n{\"a\":2}\n] \n",
		want: []rec{
			{Index: 1, Offset: 3, Fields: []string{"num:1", missing}},
			{Index: 2, Offset: 13, Fields: []string{"num:2", missing}},
		},
		end: 22, // trailing whitespace is not part of a record
	},
	{
		name: "single object",
		in:   `{"a":1,"b":[1, {"c":2}]}` + "\n",
		want: []rec{{Index: 1, Offset: 0, Fields: []string{"num:1", `json:[1, {"c":2}]`}, Raw: `{"a":1,"b":[1, {"c":2}]}`}},
		end:  24,
	},
	{name: "empty array", in: "[]", end: -1},
	{name: "empty array with spaces", in: " [ ] ", end: 4},
	{name: "empty input", in: "", end: 0},
	{name: "only whitespace", in: " \n\t", end: 0},
	{
		name: "array cut short inside an element",
		in:   `[{"a":1},{"a":2},{"a":`,
		want: []rec{
			{Index: 1, Offset: 1, Fields: []string{"num:1", missing}},
			{Index: 2, Offset: 9, Fields: []string{"num:2", missing}},
		},
		err: codec.ErrTruncated, errMsg: "after 2 records (byte 22)",
	},
	{
		name: "array cut short after an element",
		in:   `[{"a":1}`,
		want: []rec{{Index: 1, Offset: 1, Fields: []string{"num:1", missing}}},
		err:  codec.ErrTruncated,
	},
	{
		name: "array cut short after a comma",
		in:   `[{"a":1},`,
		want: []rec{{Index: 1, Offset: 1, Fields: []string{"num:1", missing}}},
		err:  codec.ErrTruncated,
	},
	{name: "only an opening bracket", in: `[`, err: codec.ErrTruncated},
	{name: "object cut short", in: `{"a":1`, err: codec.ErrTruncated},
	{
		name: "elements that are not objects",
		in:   `[{"a":1},[1],2,"s",null,true,{"a":3}]`,
		want: []rec{
			{Index: 1, Offset: 1, Fields: []string{"num:1", missing}},
			{Index: 2, Offset: 9, Err: codec.ErrNotObject, Raw: "[1]", Msg: "got an array"},
			{Index: 3, Offset: 13, Err: codec.ErrNotObject, Raw: "2", Msg: "got a number"},
			{Index: 4, Offset: 15, Err: codec.ErrNotObject, Raw: `"s"`},
			{Index: 5, Offset: 19, Err: codec.ErrNotObject, Raw: "null"},
			{Index: 6, Offset: 24, Err: codec.ErrNotObject, Raw: "true"},
			{Index: 7, Offset: 29, Fields: []string{"num:3", missing}},
		},
		end: -1,
	},
	{
		name:   "trailing garbage after the array",
		in:     `[{"a":1}] x`,
		want:   []rec{{Index: 1, Offset: 1, Fields: []string{"num:1", missing}}},
		errAny: true, errMsg: "unexpected data after the document",
	},
	{
		name:   "a second array after the first",
		in:     `[{"a":1}][]`,
		want:   []rec{{Index: 1, Offset: 1, Fields: []string{"num:1", missing}}},
		errAny: true, errMsg: "unexpected data after the document",
	},
	{
		name:   "trailing garbage after a single object",
		in:     `{"a":1} {"a":2}`,
		errAny: true, errMsg: "unexpected data after the document",
	},
	{name: "top-level number", in: `42`, err: codec.ErrNotObject},
	{name: "top-level string", in: `"x"`, err: codec.ErrNotObject},
	{name: "top-level garbage", in: `]`, errAny: true, errMsg: "invalid character"},
	{
		name:   "syntax error inside the array",
		in:     `[{"a":1},{"a" 2},{"a":3}]`,
		want:   []rec{{Index: 1, Offset: 1, Fields: []string{"num:1", missing}}},
		errAny: true, errMsg: "after 1 records",
	},
	{
		name: "duplicate keys and invalid UTF-8 reject only their element",
		in:   "[{\"a\":1,\"a\":2},{\"a\":\"\xff\"},{\"a\":\"caf\\u00e9\"}]",
		want: []rec{
			{Index: 1, Offset: 1, Err: codec.ErrInvalidJSON, Msg: "duplicate"},
			{Index: 2, Offset: 15, Err: codec.ErrInvalidJSON, Msg: "UTF-8"},
			{Index: 3, Offset: 25, Fields: []string{"café", missing}},
		},
		end: -1,
	},
	{
		name: "element over max_record_bytes",
		in:   `[{"a":"` + z(20) + `"},{"a":1}]`,
		max:  16,
		want: []rec{
			{Index: 1, Offset: 1, Err: codec.ErrRecordTooLarge, Raw: `{"a":"` + z(20) + `"}`},
			{Index: 2, Offset: 30, Fields: []string{"num:1", missing}},
		},
		end: -1,
	},
	{
		name: "BOM stripped",
		in:   "\xef\xbb\xbf[{\"a\":1}]",
		want: []rec{{Index: 1, Offset: 4, Fields: []string{"num:1", missing}, Raw: `{"a":1}`}},
		end:  -1,
	},
	{
		name: "BOM before a single object",
		in:   "\xef\xbb\xbf{\"a\":1}",
		want: []rec{{Index: 1, Offset: 3, Fields: []string{"num:1", missing}, Raw: `{"a":1}`}},
		end:  -1,
	},
}

func TestJSONDecoder(t *testing.T) {
	for _, c := range jsonCases {
		t.Run(c.name, func(t *testing.T) {
			d := codec.NewJSONDecoder(strings.NewReader(c.in), c.columns(), c.max)
			res := drain(t, d)
			c.check(t, res)
			if res.Lines != 0 {
				t.Errorf("Lines() = %d, want 0", res.Lines)
			}
		})
	}
}

func TestJSONReaders(t *testing.T) {
	for _, c := range jsonCases {
		want := drain(t, codec.NewJSONDecoder(strings.NewReader(c.in), c.columns(), c.max))
		for name, r := range readers([]byte(c.in)) {
			got := drain(t, codec.NewJSONDecoder(r, c.columns(), c.max))
			if diff := sameResult(want, got); diff != "" {
				t.Errorf("%s/%s: differs from bulk read: %s", c.name, name, diff)
			}
		}
	}
}

// A single object's record must stay intact after the decoder has looked
// past it for trailing data.
func TestJSONSingleObjectRecordIntact(t *testing.T) {
	in := `{"a":"` + strings.Repeat("v", 5000) + `","b":{"n":[1,2,3]}}` + strings.Repeat(" ", 3000)
	d := codec.NewJSONDecoder(strings.NewReader(in), []string{"a", "b"}, 0)
	r, err := d.Next()
	if err != nil {
		t.Fatal(err)
	}
	// Raw keeps the first 4 KiB for quarantine.
	if string(r.Raw) != in[:4096] {
		t.Errorf("Raw corrupted: %.40q...", r.Raw)
	}
	if string(r.Fields[0].Bytes) != strings.Repeat("v", 5000) || string(r.Fields[1].Bytes) != `{"n":[1,2,3]}` {
		t.Errorf("fields corrupted: %.40q / %q", r.Fields[0].Bytes, r.Fields[1].Bytes)
	}
	if _, err := d.Next(); err == nil || err.Error() != "EOF" {
		t.Errorf("second Next = %v, want io.EOF", err)
	}
	if want := int64(len(strings.TrimRight(in, " "))); d.End() != want {
		t.Errorf("End() = %d, want %d", d.End(), want)
	}
}

// An element too big to buffer is scanned past, not buffered, so memory
// does not grow with it: it is quarantined and the elements after it are
// delivered (issue 11, item 8; this test used to require the stream to
// stop).
func TestJSONHugeElementIsSkipped(t *testing.T) {
	in := `[{"a":1},{"a":"` + strings.Repeat("x", 600<<10) + `"},{"a":2}]`
	res := drain(t, codec.NewJSONDecoder(strings.NewReader(in), []string{"a"}, 16))
	checkRecs(t, res.Recs, []rec{
		{Index: 1, Offset: 1, Fields: []string{"num:1"}},
		{Index: 2, Offset: 9, Err: codec.ErrRecordTooLarge, Raw: in[9 : 9+4096], Msg: "limit 16 bytes"},
		{Index: 3, Offset: int64(len(in)) - 8, Fields: []string{"num:2"}},
	})
	if res.Err != nil || res.End != int64(len(in)) {
		t.Fatalf("stream error %v, End %d; want none, %d", res.Err, res.End, len(in))
	}
}

func TestJSONReadErrors(t *testing.T) {
	boom := errors.New("boom")
	res := drain(t, codec.NewJSONLDecoder(&errReader{data: []byte("{\"a\":1}\n{\"a\""), err: boom}, []string{"a"}, 0, codec.Range{}))
	checkRecs(t, res.Recs, []rec{{Index: 1, Line: 1, Offset: 0, Fields: []string{"num:1"}}})
	if !errors.Is(res.Err, boom) {
		t.Errorf("JSON Lines: stream error %v, want one wrapping boom", res.Err)
	}
	res = drain(t, codec.NewJSONDecoder(&errReader{data: []byte(`[{"a":1},{"a"`), err: boom}, []string{"a"}, 0))
	checkRecs(t, res.Recs, []rec{{Index: 1, Offset: 1, Fields: []string{"num:1"}}})
	if !errors.Is(res.Err, boom) || errors.Is(res.Err, codec.ErrTruncated) {
		t.Errorf("JSON: stream error %v, want one wrapping boom, not truncation", res.Err)
	}
	// Read errors while looking for a byte order mark.
	for _, in := range []string{"", " ", "\xef\xbb\xbf", "\xef\xbb\xbf[{\"a\":1}"} {
		res = drain(t, codec.NewJSONDecoder(&errReader{data: []byte(in), err: boom}, []string{"a"}, 0))
		if !errors.Is(res.Err, boom) || len(res.Recs) != strings.Count(in, "{") {
			t.Errorf("JSON %q: %d records, stream error %v; want one wrapping boom", in, len(res.Recs), res.Err)
		}
	}
}
