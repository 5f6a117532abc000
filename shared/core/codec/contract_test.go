package codec_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/sluice-etl/sluice/shared/core/codec"
)

// contractCase is one input decoded under a schema contract.
type contractCase struct {
	name     string
	format   codec.Format
	in       string
	cols     []string // default: a, b
	contract codec.Contract
	csv      codec.CSVOptions // Header is on unless csv.Columns is set
	rng      codec.Range
	// newErr, for CSV, is the exact error the decoder is made with, and
	// wraps each of newIs.
	newErr string
	newIs  []error
	want   []rec
	// err is the exact error that stops the decoder, which wraps errIs.
	err   string
	errIs error
}

func (c *contractCase) decoder() (codec.Decoder, error) {
	cols := c.cols
	if cols == nil {
		cols = []string{"a", "b"}
	}
	with := func(o *codec.DecoderOptions) { o.Contract = c.contract }
	r := strings.NewReader(c.in)
	switch c.format {
	case codec.FormatJSONL:
		return codec.NewJSONLDecoder(r, cols, 0, c.rng, with), nil
	case codec.FormatJSON:
		return codec.NewJSONDecoder(r, cols, 0, with), nil
	}
	opt := c.csv
	opt.Header = opt.Columns == nil && c.rng.Header == nil
	return codec.NewCSVDecoder(r, cols, opt, c.rng, with)
}

var (
	reject   = codec.Contract{Unknown: codec.UnknownReject}
	failNew  = codec.Contract{Unknown: codec.UnknownFail}
	ignore   = codec.Contract{Unknown: codec.UnknownIgnore}
	nullB    = codec.Contract{Missing: []codec.MissingPolicy{"", codec.MissingNull}}
	failB    = codec.Contract{Missing: []codec.MissingPolicy{"", codec.MissingFail}, Fields: []string{"a", "bee"}}
	defaultB = codec.Contract{Missing: []codec.MissingPolicy{"", ""}, Fields: []string{"a", "bee"}}
)

var contractCases = []contractCase{
	// CSV: the header is held to the contract once.
	{
		name: "csv: an unknown column is ignored by default", in: "a,b,note\n1,2,x\n",
		want: []rec{{Index: 1, Line: 2, Offset: 9, Fields: []string{"1", "2"}}},
	},
	{
		name: "csv: ignore is the default", in: "a,b,note\n1,2,x\n", contract: ignore,
		want: []rec{{Index: 1, Line: 2, Offset: 9, Fields: []string{"1", "2"}}},
	},
	{
		name: "csv: reject rejects the rows with a value in the unknown column", contract: reject,
		in: "note,a,b\n,1,2\nhi,3,4\n\"\",5,6\n\" \",7,8\n",
		want: []rec{
			{Index: 1, Line: 2, Offset: 9, Fields: []string{"1", "2"}},
			{Index: 2, Line: 3, Offset: 14, Err: codec.ErrUnknownColumn, Msg: `unknown column: column "note" has a value, and no field reads it`},
			{Index: 3, Line: 4, Offset: 21, Fields: []string{"5", "6"}},
			{Index: 4, Line: 5, Offset: 28, Err: codec.ErrUnknownColumn, Msg: `column "note" has a value`},
		},
	},
	{
		name: "csv: the first unknown column with a value is named", contract: reject,
		in:   "a,x,b,y\n1,,2,v\n",
		want: []rec{{Index: 1, Line: 2, Offset: 8, Err: codec.ErrUnknownColumn, Msg: `column "y" has a value`}},
	},
	{
		name: "csv: a wrong column count is a decode error first", contract: reject,
		in:   "a,b,note\n1,2,x,9\n",
		want: []rec{{Index: 1, Line: 2, Offset: 9, Err: codec.ErrColumnCount}},
	},
	{
		name: "csv: reject in a later chunk reads the header it is given", contract: reject,
		in: "1,2,\n3,4,x\n", rng: codec.Range{Start: 9, Header: []string{"a", "b", "note"}},
		want: []rec{
			{Index: 1, Line: 1, Offset: 9, Fields: []string{"1", "2"}},
			{Index: 2, Line: 2, Offset: 14, Err: codec.ErrUnknownColumn},
		},
	},
	{
		name: "csv: fail fails at the header", contract: failNew, in: "a,b,note\n1,2,x\n",
		newErr: `bad header: line 1: column "note" is not read by any field (source.unknown_columns is fail)`,
		newIs:  []error{codec.ErrHeader, codec.ErrUnknownColumn},
	},
	{
		name: "csv: fail names the header's line", contract: failNew, in: "# export\n\nb,a,extra\n1,2,3\n",
		csv:    codec.CSVOptions{Comment: '#'},
		newErr: `bad header: line 3: column "extra" is not read by any field (source.unknown_columns is fail)`,
		newIs:  []error{codec.ErrHeader, codec.ErrUnknownColumn},
	},
	{
		name: "csv: without a header, columns stands for one", contract: failNew, in: "1,2,3\n",
		csv:    codec.CSVOptions{Columns: []string{"a", "b", "c"}},
		newErr: `bad header: csv.columns: column "c" is not read by any field (source.unknown_columns is fail)`,
		newIs:  []error{codec.ErrHeader, codec.ErrUnknownColumn},
	},
	{
		name: "csv: an empty input has no header to fail", contract: failNew, in: "",
	},
	{
		name: "csv: every column read passes fail", contract: failNew, in: "b,a\n1,2\n",
		want: []rec{{Index: 1, Line: 2, Offset: 4, Fields: []string{"2", "1"}}},
	},
	{
		name: "csv: a missing column fails at the header by default", in: "a,c\n1,2\n",
		newErr: `bad header: column "b" not found (have a, c)`,
		newIs:  []error{codec.ErrHeader, codec.ErrMissingColumn},
	},
	{
		name: "csv: the default names the field", contract: defaultB, in: "a,c\n1,2\n",
		newErr: `bad header: column "b" not found (have a, c); field "bee" reads it, and a missing column fails by default (missing: null reads it as null)`,
		newIs:  []error{codec.ErrHeader, codec.ErrMissingColumn},
	},
	{
		name: "csv: missing fail names the field and its policy", contract: failB, in: "a,c\n1,2\n",
		newErr: `bad header: column "b" not found (have a, c); field "bee" reads it, and its missing policy is fail`,
		newIs:  []error{codec.ErrHeader, codec.ErrMissingColumn},
	},
	{
		name: "csv: missing null reads every row's value as missing", contract: nullB, in: "a,c\n1,2\n3,4\n",
		want: []rec{
			{Index: 1, Line: 2, Offset: 4, Fields: []string{"1", missing}},
			{Index: 2, Line: 3, Offset: 8, Fields: []string{"3", missing}},
		},
	},
	{
		name: "csv: missing null does not excuse another column", contract: nullB, in: "c\n1\n",
		newErr: `bad header: column "a" not found (have c)`,
		newIs:  []error{codec.ErrHeader, codec.ErrMissingColumn},
	},

	// JSON Lines: each object is held to the contract.
	{
		name: "jsonl: unknown keys are ignored by default", format: codec.FormatJSONL,
		in:   `{"a":1,"b":2,"x":3}` + "\n",
		want: []rec{{Index: 1, Line: 1, Offset: 0, Fields: []string{"num:1", "num:2"}}},
	},
	{
		name: "jsonl: reject rejects a record with an unknown key, null or not", format: codec.FormatJSONL, contract: reject,
		in: `{"a":1,"b":2}` + "\n" + `{"a":1,"x":{"y":1}}` + "\n" + `{"x":null}` + "\n" + `{"a":1,"x":1,"y":2,"z":3}` + "\n" + `{"a":1,"\u0071":2}` + "\n",
		want: []rec{
			{Index: 1, Line: 1, Offset: 0, Fields: []string{"num:1", "num:2"}},
			{Index: 2, Line: 2, Offset: 14, Err: codec.ErrUnknownColumn, Msg: `unknown column: key "x" is not read by any field`},
			{Index: 3, Line: 3, Offset: 34, Err: codec.ErrUnknownColumn, Msg: `key "x" is not read by any field`},
			{Index: 4, Line: 4, Offset: 45, Err: codec.ErrUnknownColumn, Msg: `key "x" is not read by any field (nor are 2 other keys)`},
			{Index: 5, Line: 5, Offset: 71, Err: codec.ErrUnknownColumn, Msg: `key "q" is not read by any field`},
		},
	},
	{
		name: "jsonl: a bad line is a decode error first", format: codec.FormatJSONL, contract: failNew,
		in:   `{"x":1,` + "\n",
		want: []rec{{Index: 1, Line: 1, Offset: 0, Err: codec.ErrInvalidJSON}},
	},
	{
		name: "jsonl: fail stops at the first record with an unknown key", format: codec.FormatJSONL, contract: failNew,
		in:    `{"a":1}` + "\n" + `{"a":2,"extra":true,"more":1}` + "\n" + `{"a":3}` + "\n",
		want:  []rec{{Index: 1, Line: 1, Offset: 0, Fields: []string{"num:1", missing}}},
		err:   `jsonl: line 2 (record 2, byte 8): key "extra" is not read by any field (nor is 1 other key) (source.unknown_columns is fail)`,
		errIs: codec.ErrUnknownColumn,
	},
	{
		name: "jsonl: an absent key is missing by default", format: codec.FormatJSONL, contract: defaultB,
		in:   `{"a":1}` + "\n" + `{"a":1,"b":null}` + "\n",
		want: []rec{{Index: 1, Line: 1, Offset: 0, Fields: []string{"num:1", missing}}, {Index: 2, Line: 2, Offset: 8, Fields: []string{"num:1", "null"}}},
	},
	{
		name: "jsonl: missing fail stops at the first record without the key; null is not absent", format: codec.FormatJSONL, contract: failB,
		in:    `{"a":1,"b":null}` + "\n\n" + `{"a":2}` + "\n",
		want:  []rec{{Index: 1, Line: 1, Offset: 0, Fields: []string{"num:1", "null"}}},
		err:   `jsonl: line 3 (record 2, byte 18): key "b" is absent: field "bee" reads it, and its missing policy is fail`,
		errIs: codec.ErrMissingColumn,
	},
	{
		name: "jsonl: a failure comes before a reject", format: codec.FormatJSONL,
		contract: codec.Contract{Unknown: codec.UnknownReject, Missing: []codec.MissingPolicy{"", codec.MissingFail}},
		in:       `{"a":1,"x":1}` + "\n",
		err:      `jsonl: line 1 (record 1, byte 0): key "b" is absent: its missing policy is fail`,
		errIs:    codec.ErrMissingColumn,
	},

	// JSON documents: each element is held to the contract.
	{
		name: "json: reject an element with an unknown key", format: codec.FormatJSON, contract: reject,
		in: `[{"a":1,"b":2},{"a":1,"c":2}]`,
		want: []rec{
			{Index: 1, Offset: 1, Fields: []string{"num:1", "num:2"}},
			{Index: 2, Offset: 15, Err: codec.ErrUnknownColumn, Msg: `key "c" is not read by any field`},
		},
	},
	{
		name: "json: fail in an array", format: codec.FormatJSON, contract: failNew,
		in:    `[{"a":1}, {"b":1,"c":2}]`,
		want:  []rec{{Index: 1, Offset: 1, Fields: []string{"num:1", missing}}},
		err:   `json: record 2 (byte 10): key "c" is not read by any field (source.unknown_columns is fail)`,
		errIs: codec.ErrUnknownColumn,
	},
	{
		name: "json: missing fail on a single object", format: codec.FormatJSON, contract: failB,
		in:    `{"a":"x"}`,
		err:   `json: record 1 (byte 0): key "b" is absent: field "bee" reads it, and its missing policy is fail`,
		errIs: codec.ErrMissingColumn,
	},
	{
		name: "json: missing null", format: codec.FormatJSON, contract: nullB,
		in:   `[{"a":"x"}]`,
		want: []rec{{Index: 1, Offset: 1, Fields: []string{"x", missing}}},
	},
}

func TestContracts(t *testing.T) {
	for _, c := range contractCases {
		t.Run(c.name, func(t *testing.T) {
			d, err := c.decoder()
			if c.newErr != "" || err != nil {
				if err == nil || err.Error() != c.newErr {
					t.Fatalf("error making the decoder:\n got %v\nwant %s", err, c.newErr)
				}
				for _, is := range c.newIs {
					if !errors.Is(err, is) {
						t.Errorf("error %v does not wrap %v", err, is)
					}
				}
				return
			}
			res := drain(t, d)
			checkRecs(t, res.Recs, c.want)
			if errText(res.Err) != c.err {
				t.Errorf("decoder stopped with:\n got %v\nwant %s", res.Err, c.err)
			}
			if c.errIs != nil && !errors.Is(res.Err, c.errIs) {
				t.Errorf("error %v does not wrap %v", res.Err, c.errIs)
			}
		})
	}
}

// The contract gives the same records however the input is read.
func TestContractsAcrossReaders(t *testing.T) {
	in := "note,a,b\n,1,2\nhi,3,4\n"
	var want result
	for name, r := range readers([]byte(in)) {
		d, err := codec.NewCSVDecoder(r, []string{"a", "b"}, codec.CSVOptions{Header: true}, codec.Range{},
			func(o *codec.DecoderOptions) { o.Contract = reject })
		if err != nil {
			t.Fatal(err)
		}
		got := drain(t, d)
		if want.Recs == nil {
			want = got
			continue
		}
		if diff := sameResult(want, got); diff != "" {
			t.Errorf("%s: %s", name, diff)
		}
	}
	if len(want.Recs) != 2 || want.Recs[1].Err == nil {
		t.Fatalf("records = %+v", want.Recs)
	}
}

func TestMessageContracts(t *testing.T) {
	with := func(c codec.Contract) func(*codec.DecoderOptions) {
		return func(o *codec.DecoderOptions) { o.Contract = c }
	}
	cols := []string{"a", "b"}
	m, err := codec.NewMessageDecoder(codec.FormatJSON, cols, codec.CSVOptions{}, with(reject))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := m.Decode([]byte(`{"a":1,"x":2}`)); err != nil || !errors.Is(r.Err, codec.ErrUnknownColumn) || r.Fields[0].Kind != codec.RawMissing {
		t.Fatalf("reject: %+v, %v", r, err)
	}
	if r, err := m.Decode([]byte(`{"a":1}`)); err != nil || r.Err != nil || r.Fields[0].Kind != codec.RawNumber {
		t.Fatalf("after a reject: %+v, %v", r, err)
	}

	m, _ = codec.NewMessageDecoder(codec.FormatJSON, cols, codec.CSVOptions{}, with(failB))
	r, err := m.Decode([]byte(`{"a":1}`))
	if want := `decode message: key "b" is absent: field "bee" reads it, and its missing policy is fail`; r != nil || err == nil || err.Error() != want || !errors.Is(err, codec.ErrMissingColumn) {
		t.Fatalf("missing fail: %+v, %v\nwant the error %s", r, err, want)
	}
	if r, err := m.Decode([]byte(`{"a":1,"b":2}`)); err != nil || r.Err != nil {
		t.Fatalf("after a failure: %+v, %v", r, err)
	}

	// CSV messages: csv.columns is the header, held to the contract when
	// the decoder is made.
	csv := codec.CSVOptions{Columns: []string{"a", "b", "note"}}
	if _, err := codec.NewMessageDecoder(codec.FormatCSV, cols, csv, with(failNew)); err == nil ||
		err.Error() != `bad header: csv.columns: column "note" is not read by any field (source.unknown_columns is fail)` {
		t.Fatalf("csv fail: %v", err)
	}
	m, err = codec.NewMessageDecoder(codec.FormatCSV, cols, csv, with(reject))
	if err != nil {
		t.Fatal(err)
	}
	for msg, unknown := range map[string]bool{"1,2,": false, "1,2,x": true} {
		r, err := m.Decode([]byte(msg))
		if err != nil || errors.Is(r.Err, codec.ErrUnknownColumn) != unknown {
			t.Errorf("%q: %+v, %v; want unknown %v", msg, r, err, unknown)
		}
	}
	if _, err := codec.NewMessageDecoder(codec.FormatCSV, []string{"a", "z"}, csv, with(nullB)); err != nil {
		t.Fatalf("csv missing null: %v", err)
	}
}

// A decoder stopped by a contract stays stopped for the caller: the
// records before the failure were whole.
func TestContractFailureIsNotEOF(t *testing.T) {
	d := codec.NewJSONLDecoder(strings.NewReader(`{"a":1,"x":1}`+"\n"), []string{"a"}, 0, codec.Range{},
		func(o *codec.DecoderOptions) { o.Contract = failNew })
	if _, err := d.Next(); err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("Next = %v, want the contract's error", err)
	}
}

// FuzzContracts decodes the same input with each unknown column policy
// and holds the results to one another: reject rejects exactly the
// records ignore decoded without error that have an unknown key (or, for
// CSV, a value in an unknown column), and leaves the others as ignore
// decoded them; fail decodes as reject up to the first such record, and
// stops there with an error wrapping ErrUnknownColumn.
func FuzzContracts(f *testing.F) {
	for _, c := range jsonlCases {
		f.Add([]byte(c.in), false)
	}
	for _, c := range contractCases {
		f.Add([]byte(c.in), c.format == codec.FormatCSV)
	}
	f.Add([]byte("a,x\n1,\n2,y\n\"3\",\"\"\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, csv bool) {
		cols := []string{"a", "b"}
		mk := func(c codec.Contract) (codec.Decoder, error) {
			with := func(o *codec.DecoderOptions) { o.Contract = c }
			if csv {
				// Every column the header has but the first is unknown.
				h := headerOf(data)
				if len(h) == 0 {
					return nil, nil
				}
				cols = h[:1]
				return codec.NewCSVDecoder(bytes.NewReader(data), cols, codec.CSVOptions{Header: true, MaxRecordBytes: fuzzMax}, codec.Range{}, with)
			}
			return codec.NewJSONLDecoder(bytes.NewReader(data), cols, fuzzMax, codec.Range{}, with), nil
		}
		d, err := mk(codec.Contract{})
		if d == nil || err != nil {
			return // no header: nothing to hold to a contract
		}
		ignored := drain(t, d)
		d, err = mk(reject)
		if err != nil {
			t.Fatalf("reject refused the header: %v", err)
		}
		rejected := drain(t, d)
		if len(rejected.Recs) != len(ignored.Recs) || errText(rejected.Err) != errText(ignored.Err) {
			t.Fatalf("reject gave %d records and %v, ignore %d and %v", len(rejected.Recs), rejected.Err, len(ignored.Recs), ignored.Err)
		}
		first := -1
		for i, r := range rejected.Recs {
			g := ignored.Recs[i]
			if errors.Is(r.Err, codec.ErrUnknownColumn) {
				if g.Err != nil {
					t.Fatalf("record %d: rejected for an unknown column, but ignore read it with %v", r.Index, g.Err)
				}
				if first < 0 {
					first = i
				}
				continue
			}
			if diff := sameResult(result{Recs: []rec{r}}, result{Recs: []rec{g}}); diff != "" {
				t.Fatalf("reject and ignore differ: %s", diff)
			}
		}
		d, err = mk(failNew)
		if csv {
			// Header names are distinct, so only the first is read.
			if unknown := len(cols) < len(headerOf(data)); unknown != (err != nil) || unknown != errors.Is(err, codec.ErrUnknownColumn) {
				t.Fatalf("fail with header %q: %v", headerOf(data), err)
			}
			return
		}
		failed := drain(t, d)
		if first < 0 {
			if diff := sameResult(failed, rejected); diff != "" {
				t.Fatalf("no unknown key, but fail and reject differ: %s", diff)
			}
			return
		}
		if !errors.Is(failed.Err, codec.ErrUnknownColumn) || len(failed.Recs) != first {
			t.Fatalf("fail stopped after %d records with %v; the first unknown key is in record %d", len(failed.Recs), failed.Err, first+1)
		}
		if diff := sameResult(result{Recs: failed.Recs}, result{Recs: rejected.Recs[:first]}); diff != "" {
			t.Fatalf("fail and reject differ before the failure: %s", diff)
		}
	})
}

// headerOf is the header of a CSV input.
func headerOf(data []byte) []string {
	d, err := codec.NewCSVDecoder(bytes.NewReader(data), nil, codec.CSVOptions{Header: true, MaxRecordBytes: fuzzMax}, codec.Range{})
	if err != nil {
		return nil
	}
	return d.Header()
}
