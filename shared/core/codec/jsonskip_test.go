package codec_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/sluice-etl/sluice/shared/core/codec"
)

// bigReaders are ways of delivering a large input: readers' set without
// its byte-at-a-time ones, which take minutes on megabytes under the race
// detector, and with lumpy reads instead.
func bigReaders(data []byte) map[string]io.Reader {
	return map[string]io.Reader{
		"bulk":    bytes.NewReader(data),
		"half":    iotest.HalfReader(bytes.NewReader(data)),
		"dataerr": iotest.DataErrReader(bytes.NewReader(data)),
		"lumpy":   &lumpyReader{data: data},
	}
}

// lumpyReader returns reads of uneven sizes, from one byte to 256 KiB, and
// sometimes (0, nil).
type lumpyReader struct {
	data []byte
	n    int
}

var lumps = []int{1, 4095, 3, 65537, 0, 2, 262143, 17, 1, 300 << 10}

func (l *lumpyReader) Read(p []byte) (int, error) {
	if len(l.data) == 0 {
		return 0, io.EOF
	}
	k := min(lumps[l.n%len(lumps)], len(p), len(l.data))
	l.n++
	copy(p, l.data[:k])
	l.data = l.data[k:]
	return k, nil
}

// big is a run of n bytes of c, more than the decoder buffers for one
// element (the record limit plus 256 KiB) when n is 300 KiB or more.
func big(c byte, n int) string { return strings.Repeat(string(c), n) }

// The document: a 2 MiB element in an array is quarantined like
// a 1.1 MiB one, and the elements after it are read (issue 11, item 8).
func TestJSONOversizedElementSkipped(t *testing.T) {
	for _, size := range []int{1100 << 10, 2 << 20} {
		el := `{"id":2,"name":"` + big('n', size) + `"}`
		in := `[{"id":1},` + el + `,{"id":3}]`
		want := []rec{
			{Index: 1, Offset: 1, Fields: []string{"num:1", missing}},
			{Index: 2, Offset: 10, Err: codec.ErrRecordTooLarge, Raw: el[:4096], Msg: "limit 1048576 bytes"},
			{Index: 3, Offset: int64(len(in)) - 9, Fields: []string{"num:3", missing}},
		}
		for name, r := range bigReaders([]byte(in)) {
			res := drain(t, codec.NewJSONDecoder(r, []string{"id", "name"}, 0))
			checkRecs(t, res.Recs, want)
			if res.Err != nil || res.End != int64(len(in)) {
				t.Errorf("%d bytes/%s: stream error %v, End() %d; want none, %d", size, name, res.Err, res.End, len(in))
			}
		}
	}
}

// at is the offset of the first sub in s, and raw the Raw of an element
// starting there: at most 4096 bytes.
func at(s, sub string) int64 { return int64(strings.Index(s, sub)) }
func raw(s, sub string) string {
	r := s[strings.Index(s, sub):]
	return r[:min(len(r), 4096)]
}

func jsonSkipCases() []jsonCase {
	var cs []jsonCase
	add := func(c jsonCase) { cs = append(cs, c) }

	in := `[{"a":"x\"]}\\","b":[` + big('1', 300<<10) + `,{"c":"}"}]},{"a":2}]`
	add(jsonCase{
		name: "strings, escapes and brackets inside the skipped element", in: in,
		want: []rec{
			{Index: 1, Offset: 1, Err: codec.ErrRecordTooLarge, Raw: raw(in, `{"a":"x`)},
			{Index: 2, Offset: at(in, `{"a":2}`), Fields: []string{"num:2", missing}},
		},
		end: -1,
	})
	in = `["` + big('s', 300<<10) + `",` + big('7', 300<<10) + `,[` + big(' ', 300<<10) + `],{"a":1}]`
	add(jsonCase{
		name: "elements that are not objects", in: in,
		want: []rec{
			{Index: 1, Offset: 1, Err: codec.ErrRecordTooLarge, Raw: raw(in, `"s`)},
			{Index: 2, Offset: at(in, "7"), Err: codec.ErrRecordTooLarge, Raw: raw(in, "7")},
			{Index: 3, Offset: at(in, ",[") + 1, Err: codec.ErrRecordTooLarge, Raw: raw(in, "[ ")},
			{Index: 4, Offset: at(in, `{"a":1}`), Fields: []string{"num:1", missing}},
		},
		end: -1,
	})
	in = "[ " + `{"a":"` + big('x', 300<<10) + `"}` + " ,\n" + `{"b":"` + big('y', 300<<10) + `"}` + "\n]\n"
	add(jsonCase{
		name: "two oversized elements in a row, then the end", in: in,
		want: []rec{
			{Index: 1, Offset: 2, Err: codec.ErrRecordTooLarge, Raw: raw(in, `{"a"`)},
			{Index: 2, Offset: at(in, `{"b"`), Err: codec.ErrRecordTooLarge, Raw: raw(in, `{"b"`)},
		},
		end: int64(len(in)) - 1,
	})
	in = `[{"a":1},` + big(' ', 300<<10) + `{"a":2}` + big('\n', 300<<10) + `]`
	add(jsonCase{
		name: "a long run of white space before a small element", in: in,
		want: []rec{
			{Index: 1, Offset: 1, Fields: []string{"num:1", missing}},
			{Index: 2, Offset: at(in, `{"a":2}`), Fields: []string{"num:2", missing}, Raw: `{"a":2}`},
		},
		end: -1,
	})
	in = `[` + big('\t', 300<<10) + `{"b":true}]`
	add(jsonCase{
		name: "a long run of white space before the first element", in: in,
		want: []rec{{Index: 1, Offset: at(in, "{"), Fields: []string{missing, "bool:true"}}},
		end:  -1,
	})
	in = `{"a":"` + big('x', 300<<10) + `"}` + "\n"
	add(jsonCase{
		name: "an oversized single object", in: in,
		want: []rec{{Index: 1, Offset: 0, Err: codec.ErrRecordTooLarge, Raw: in[:4096]}},
		end:  int64(len(in)) - 1,
	})
	add(jsonCase{
		name:   "an oversized single object with data after it",
		in:     `{"a":"` + big('x', 300<<10) + `"} {}`,
		errAny: true, errMsg: fmt.Sprintf("unexpected data after the document at byte %d", 300<<10+10),
	})
	add(jsonCase{
		name: "the array cut short inside an oversized element",
		in:   `[{"a":1},{"a":"` + big('x', 300<<10),
		want: []rec{{Index: 1, Offset: 1, Fields: []string{"num:1", missing}}},
		err:  codec.ErrTruncated, errMsg: "after 1 records",
	})
	in = `[{"a":"` + big('x', 300<<10) + `"} {"a":2}]`
	add(jsonCase{
		name: "a missing comma after an oversized element", in: in,
		want:   []rec{{Index: 1, Offset: 1, Err: codec.ErrRecordTooLarge, Raw: raw(in, "{")}},
		errAny: true, errMsg: fmt.Sprintf("after 1 records: invalid character '{' after array element (expecting ',' or ']') at byte %d", at(in, `{"a":2}`)+1),
	})
	in = `[{"a":1}` + big(' ', 300<<10) + `{"a":2}]`
	add(jsonCase{
		name: "a missing comma after white space", in: in,
		want:   []rec{{Index: 1, Offset: 1, Fields: []string{"num:1", missing}}},
		errAny: true, errMsg: fmt.Sprintf("after 1 records: invalid character '{' after array element (expecting ',' or ']') at byte %d", at(in, `{"a":2}`)+1),
	})
	in = `[{"a":1},` + big(' ', 300<<10) + `]`
	add(jsonCase{
		name: "a trailing comma after white space", in: in,
		want:   []rec{{Index: 1, Offset: 1, Fields: []string{"num:1", missing}}},
		errAny: true, errMsg: "after 1 records",
	})
	in = `[{"a":1},` + big(' ', 300<<10) + `?]`
	add(jsonCase{
		name: "junk after white space", in: in,
		want:   []rec{{Index: 1, Offset: 1, Fields: []string{"num:1", missing}}},
		errAny: true, errMsg: fmt.Sprintf("invalid character '?' at start of value at byte %d", at(in, "?")+1),
	})
	return cs
}

func TestJSONSkip(t *testing.T) {
	for _, c := range jsonSkipCases() {
		t.Run(c.name, func(t *testing.T) {
			res := drain(t, codec.NewJSONDecoder(strings.NewReader(c.in), c.columns(), 32))
			c.check(t, res)
			for name, r := range bigReaders([]byte(c.in)) {
				got := drain(t, codec.NewJSONDecoder(r, c.columns(), 32))
				if diff := sameResult(res, got); diff != "" {
					t.Errorf("%s: differs from bulk read: %s", name, diff)
				}
			}
		})
	}
}

func TestJSONSkipReadError(t *testing.T) {
	boom := errors.New("boom")
	in := `[{"a":1},{"a":"` + big('x', 600<<10)
	res := drain(t, codec.NewJSONDecoder(&errReader{data: []byte(in), err: boom}, []string{"a"}, 0))
	checkRecs(t, res.Recs, []rec{{Index: 1, Offset: 1, Fields: []string{"num:1"}}})
	if !errors.Is(res.Err, boom) || strings.Contains(res.Err.Error(), "jsontext") {
		t.Errorf("stream error %v, want one wrapping boom, worded once", res.Err)
	}
}

// inflate makes fuzz inputs large enough to reach the skip: each 0x01
// becomes 300 KiB of 'x', each 0x02 300 KiB of spaces.
func inflate(data []byte) []byte {
	data = bytes.ReplaceAll(data, []byte{1}, bytes.Repeat([]byte{'x'}, 300<<10))
	return bytes.ReplaceAll(data, []byte{2}, bytes.Repeat([]byte{' '}, 300<<10))
}

// FuzzJSONSkip checks the skip of oversized elements against
// encoding/json: in a valid array every element is one record, rejected as
// too large exactly when it is over the limit, with the element's text as
// Raw; and the result does not depend on how the input arrives.
func FuzzJSONSkip(f *testing.F) {
	for _, s := range []string{
		"[{\"a\":\"\x01\"},{\"a\":2}]",
		"[{\"a\":1},\x02{\"b\":\"\\\"\x01]}\"},\x02]",
		"[\"\x01\",\x01,[\x02],{\"a\":{\"b\":[\"\x01\"]}}]",
		"{\"a\":\"\x01\"}",
		"[{\"a\":1}\x02{\"a\":2}]",
		"[\x02,]",
		"[{\"a\":\"\x01\"}",
	} {
		f.Add([]byte(s), uint8(0))
	}
	cols := []string{"a", "b"}
	f.Fuzz(func(t *testing.T, data []byte, max uint8) {
		if bytes.Count(data, []byte{1})+bytes.Count(data, []byte{2}) > 4 {
			return
		}
		doc := inflate(data)
		limit := 16 + int(max)
		mk := func(r io.Reader, _ codec.Range, _ []string) (codec.Decoder, error) {
			return codec.NewJSONDecoder(r, cols, limit), nil
		}
		d, _ := mk(bytes.NewReader(doc), codec.Range{}, nil)
		res := drain(t, d)
		checkRecords(t, doc, 0, res, false, codec.ErrInvalidJSON, codec.ErrNotObject, codec.ErrRecordTooLarge)
		lumpy, _ := mk(&lumpyReader{data: doc}, codec.Range{}, nil)
		got := drain(t, lumpy)
		if streamErrClass(got.Err) != streamErrClass(res.Err) {
			t.Fatalf("lumpy reads end with %v, bulk with %v", got.Err, res.Err)
		}
		got.Err = res.Err
		if diff := sameResult(res, got); diff != "" {
			t.Fatalf("lumpy reads differ from bulk: %s", diff)
		}
		var elems []json.RawMessage
		if !json.Valid(doc) || json.Unmarshal(doc, &elems) != nil {
			return
		}
		if res.Err != nil || len(res.Recs) != len(elems) {
			t.Fatalf("%d records, error %v, for %d elements", len(res.Recs), res.Err, len(elems))
		}
		for i, r := range res.Recs {
			e := elems[i]
			if tooLarge := errors.Is(r.Err, codec.ErrRecordTooLarge); tooLarge != (len(e) > limit) {
				t.Fatalf("element %d of %d bytes, limit %d: error %v", i+1, len(e), limit, r.Err)
			}
			if want := e[:min(len(e), 4096)]; r.Raw != string(want) {
				t.Fatalf("element %d: Raw %.40q, want %.40q", i+1, r.Raw, want)
			}
		}
	})
}
