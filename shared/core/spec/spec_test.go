package spec_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluice-etl/sluice/shared/core/spec"
	"github.com/sluice-etl/sluice/shared/core/window"
)

const ordersSpec = "../../../examples/orders/spec.yaml"

// doc joins lines into a document, so a case's line numbers can be read
// off its position in the list.
func doc(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

// specErrors returns the spec errors in err, in order.
func specErrors(t *testing.T, err error) []*spec.Error {
	t.Helper()
	var es spec.Errors
	if errors.As(err, &es) {
		return es
	}
	var e *spec.Error
	if errors.As(err, &e) {
		return []*spec.Error{e}
	}
	t.Fatalf("error %v (%T) is not a spec error", err, err)
	return nil
}

type wantErr struct {
	line int
	key  string
	msg  string // a substring of the message
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []wantErr
	}{
		{"unknown top-level key", doc(
			"version: 1",
			"fields:",
			"  - name: a",
			"bogus: 1",
		), []wantErr{{4, "bogus", `unknown key "bogus"`}}},
		{"unknown nested key", doc(
			"version: 1",
			"fields:",
			"  - name: a",
			"  - name: b",
			"    rulez:",
			"      regex: x",
		), []wantErr{{5, "fields[1].rulez", `unknown key "rulez"`}}},
		{"unknown nested key with a flow value", doc(
			"fields:",
			"  - name: a",
			"  - name: b",
			"    rulez: {regex: x}",
		), []wantErr{{4, "fields[1].rulez", `unknown key "rulez"`}}},
		{"unknown key in flow mapping", doc(
			"fields:",
			"  - name: a",
			"source: {csvx: {header: true}}",
		), []wantErr{{3, "source.csvx", `unknown key "csvx"`}}},
		{"unknown key in report", doc(
			"fields:",
			"  - name: a",
			"report: {html: true, values: true}",
		), []wantErr{{3, "report.values", `unknown key "values"`}}},
		{"report flag not a bool", doc(
			"fields:",
			"  - name: a",
			"report:",
			"  show_values: maybe",
		), []wantErr{{4, "report.show_values", ""}}},
		{"unknown key in source.csv", doc(
			"fields:",
			"  - name: a",
			"source:",
			"  csv:",
			"    headr: true",
		), []wantErr{{5, "source.csv.headr", `unknown key "headr"`}}},
		{"unknown key in a filter", doc(
			"fields:",
			"  - name: a",
			"filter:",
			"  - name: x",
			"    exprr: a",
		), []wantErr{{5, "filter[0].exprr", `unknown key "exprr"`}}},
		{"unknown key in a partition", doc(
			"fields:",
			"  - name: a",
			"sink:",
			"  partition_by:",
			"    - {key: dt, field: a, fromat: x}",
		), []wantErr{{5, "sink.partition_by[0].fromat", `unknown key "fromat"`}}},
		{"several unknown keys", doc(
			"fields:",
			"  - name: a",
			"    typ: int",
			"limits: {max_nodes: 3}",
			"rejects: {polcy: fail}",
		), []wantErr{
			{3, "fields[0].typ", `unknown key "typ"`},
			{4, "limits.max_nodes", `unknown key "max_nodes"`},
			{5, "rejects.polcy", `unknown key "polcy"`},
		}},
		{"wrong type: scale", doc(
			"fields:",
			"  - name: a",
			"    type: decimal",
			"    scale: abc",
		), []wantErr{{4, "fields[0].scale", "wrong type: cannot unmarshal !!str `abc` into an integer"}}},
		{"wrong type: max_rows_per_file", doc(
			"fields:",
			"  - name: a",
			"sink:",
			`  max_rows_per_file: "x"`,
		), []wantErr{{4, "sink.max_rows_per_file", "wrong type: cannot unmarshal !!str `x` into an integer"}}},
		{"wrong type: required", doc(
			"fields:",
			"  - name: a",
			"    required: 1",
		), []wantErr{{3, "fields[0].required", "wrong type: cannot unmarshal !!int `1` into a boolean"}}},
		{"wrong type: max_ratio", doc(
			"fields:",
			"  - name: a",
			"rejects: {max_ratio: '0.5'}",
		), []wantErr{{3, "rejects.max_ratio", "wrong type: cannot unmarshal !!str `0.5` into a number"}}},
		{"wrong type: fields is a mapping", doc(
			"fields:",
			"  name: a",
		), []wantErr{{2, "fields", "wrong type: cannot unmarshal !!map into a list"}}},
		{"wrong type: null_if is a mapping", doc(
			"fields:",
			"  - name: a",
			"    clean: [trim, {null_if: {a: b}}]",
		), []wantErr{{3, "fields[0].clean[1].null_if", "wrong type: cannot unmarshal !!map into a list"}}},
		{"wrong type: filter items", doc(
			"fields:",
			"  - name: a",
			"filter: [a, b]",
		), []wantErr{
			{3, "filter[0]", "wrong type: cannot unmarshal !!str `a` into a mapping"},
			{3, "filter[1]", "wrong type: cannot unmarshal !!str `b` into a mapping"},
		}},
		{"wrong type: long value", doc(
			"fields:",
			"  - name: a",
			"    drop: nottrueorfalse",
		), []wantErr{{3, "fields[0].drop", "wrong type: cannot unmarshal !!str `nottrue...` into a boolean"}}},
		{"bound is not a scalar", doc(
			"fields:",
			"  - name: a",
			"    type: int",
			"    rules: {min: [1]}",
		), []wantErr{{4, "fields[0].rules.min", "want a single value"}}},
		{"bad size", doc(
			"fields:",
			"  - name: a",
			"source:",
			"  max_record_bytes: 12XB",
		), []wantErr{{4, "source.max_record_bytes", `bad size "12XB" (want a number of bytes or e.g. 64MiB)`}}},
		{"size overflows", doc(
			"fields:",
			"  - name: a",
			"sink:",
			"  max_bytes_per_file: 10000000TiB",
		), []wantErr{{4, "sink.max_bytes_per_file", `bad size "10000000TiB"`}}},
		{"unknown field type", doc(
			"fields:",
			"  - name: a",
			"    type: text",
		), []wantErr{{3, "fields[0].type", `unknown type "text" (want string, int, float, decimal, bool, timestamp or date)`}}},
		{"unknown derive type", doc(
			"fields:",
			"  - name: a",
			"derive:",
			"  - {name: b, expr: a, type: varchar}",
		), []wantErr{{4, "derive[0].type", `unknown type "varchar"`}}},
		{"bad source format", doc(
			"source:",
			"  format: xml",
			"fields:",
			"  - name: a",
		), []wantErr{{2, "source.format", `unknown format "xml" (want csv, jsonl, json or auto)`}}},
		{"bad source compression", doc(
			"source: {compression: bz2}",
			"fields:",
			"  - name: a",
		), []wantErr{{1, "source.compression", `unknown compression "bz2" (want gzip, zstd, none or auto)`}}},
		{"bad sink format", doc(
			"fields:",
			"  - name: a",
			"sink:",
			"  format: avro",
		), []wantErr{{4, "sink.format", `unknown format "avro" (want jsonl, csv, parquet, dynamodb or iceberg)`}}},
		{"snappy is for parquet only", doc(
			"fields:",
			"  - name: a",
			"sink: {format: csv, compression: snappy}",
		), []wantErr{{3, "sink.compression", "want none, gzip or zstd for csv output"}}},
		{"bad parquet compression", doc(
			"fields:",
			"  - name: a",
			"sink: {format: parquet, compression: brotli}",
		), []wantErr{{3, "sink.compression", "want zstd, snappy, gzip or none for parquet"}}},
		{"unknown clean step", doc(
			"fields:",
			"  - name: a",
			"    clean: [trim, foo]",
		), []wantErr{{3, "fields[0].clean[1]", `unknown clean step "foo" (want trim, lower, upper, collapse_spaces, null_if or default)`}}},
		{"unknown clean step, block list", doc(
			"fields:",
			"  - name: a",
			"    clean:",
			"      - trim",
			"      - capitalize",
		), []wantErr{{5, "fields[0].clean[1]", `unknown clean step "capitalize"`}}},
		{"unknown clean step mapping", doc(
			"fields:",
			"  - name: a",
			"    clean:",
			"      - trim",
			"      - {nul_if: [x]}",
		), []wantErr{{5, "fields[0].clean[1].nul_if", `unknown clean step "nul_if"`}}},
		{"clean step without its value", doc(
			"fields:",
			"  - name: a",
			"    clean: [null_if]",
		), []wantErr{{3, "fields[0].clean[0]", `clean step "null_if" needs a value, as {null_if: ...}`}}},
		{"clean step mapping with two keys", doc(
			"fields:",
			"  - name: a",
			"    clean: [{null_if: x, default: y}]",
		), []wantErr{{3, "fields[0].clean[0]", "a clean step mapping has exactly one key"}}},
		{"default takes one value", doc(
			"fields:",
			"  - name: a",
			"    clean:",
			"      - default: [a, b]",
		), []wantErr{{4, "fields[0].clean[0].default", "default takes a single value"}}},
		{"duplicate field names", doc(
			"fields:",
			"  - name: a",
			"  - name: b",
			"  - name: a",
		), []wantErr{{4, "fields[2].name", `name "a" is already used at fields[0].name`}}},
		{"derive reuses a field name", doc(
			"fields:",
			"  - name: a",
			"derive:",
			"  - name: a",
			"    expr: '1'",
		), []wantErr{{4, "derive[0].name", `name "a" is already used at fields[0].name`}}},
		{"bad identifier", doc(
			"fields:",
			"  - name: 1a",
			"  - name: b-c",
		), []wantErr{
			{2, "fields[0].name", `name "1a" must be a letter or _ followed by letters, digits or _`},
			{3, "fields[1].name", `name "b-c" must be a letter`},
		}},
		{"missing name", doc(
			"fields:",
			"  - type: int",
		), []wantErr{{2, "fields[0].name", `name "" must be a letter`}}},
		{"no fields", doc(
			"version: 1",
			"fields: []",
		), []wantErr{{2, "fields", "at least one field is required"}}},
		{"fields missing altogether", doc(
			"version: 1",
		), []wantErr{{0, "fields", "at least one field is required"}}},
		{"unsupported version", doc(
			"version: 2",
			"fields:",
			"  - name: a",
		), []wantErr{{1, "version", "unsupported version 2 (this sluice reads version 1)"}}},
		{"dedup key unknown", doc(
			"fields:",
			"  - name: a",
			"dedup:",
			"  keys: [a, b]",
		), []wantErr{{4, "dedup.keys[1]", `unknown field "b"`}}},
		{"dedup without keys", doc(
			"fields:",
			"  - name: a",
			"dedup: {max_keys: 10}",
		), []wantErr{{3, "dedup.keys", "at least one key field is required"}}},
		{"dedup max_keys negative", doc(
			"fields:",
			"  - name: a",
			"dedup: {keys: [a], max_keys: -1}",
		), []wantErr{{3, "dedup.max_keys", "must not be negative"}}},
		{"partition field unknown", doc(
			"fields:",
			"  - name: a",
			"sink:",
			"  partition_by:",
			"    - key: dt",
			"      field: created_at",
		), []wantErr{{6, "sink.partition_by[0].field", `unknown field "created_at"`}}},
		{"partition key bad", doc(
			"fields:",
			"  - name: a",
			"sink:",
			"  partition_by:",
			"    - key: 'd t'",
			"      field: a",
		), []wantErr{{5, "sink.partition_by[0].key", `partition key "d t" must be letters, digits, _ or -`}}},
		{"max_ratio above 1", doc(
			"fields:",
			"  - name: a",
			"rejects:",
			"  policy: quarantine",
			"  max_ratio: 1.5",
		), []wantErr{{5, "rejects.max_ratio", "must be between 0 and 1"}}},
		{"max_ratio negative", doc(
			"fields:",
			"  - name: a",
			"rejects: {max_ratio: -0.1}",
		), []wantErr{{3, "rejects.max_ratio", "must be between 0 and 1"}}},
		{"bad reject policy", doc(
			"fields:",
			"  - name: a",
			"rejects: {policy: drop}",
		), []wantErr{{3, "rejects.policy", `want quarantine or fail, not "drop"`}}},
		{"header false without columns", doc(
			"source:",
			"  format: csv",
			"  csv:",
			"    header: false",
			"fields:",
			"  - name: a",
		), []wantErr{{3, "source.csv.columns", "header is false, so columns must name the CSV columns in order"}}},
		{"bad csv options", doc(
			"source:",
			"  csv:",
			"    delimiter: ab",
			"    bom: drop",
			"fields:",
			"  - name: a",
			"sink: {csv: {delimiter: \"\\n\"}}",
		), []wantErr{
			{3, "source.csv.delimiter", `want a single ASCII character, not "ab"`},
			{4, "source.csv.bom", `want strip or keep, not "drop"`},
			{7, "sink.csv.delimiter", `want a single ASCII character, not "\n"`},
		}},
		{"sink delimiter is the quote", doc(
			"fields:",
			"  - name: a",
			"sink: {format: csv, csv: {delimiter: '\"'}}",
		), []wantErr{{3, "sink.csv.delimiter", `delimiter '"' is the quote character of CSV output, which would make the output ambiguous`}}},
		{"NUL delimiters", doc(
			"source:",
			"  csv: {delimiter: \"\\0\"}",
			"fields:",
			"  - name: a",
			"sink: {format: csv, csv: {delimiter: \"\\0\"}}",
		), []wantErr{
			{2, "source.csv.delimiter", `want a single ASCII character other than NUL, not "\x00"`},
			{5, "sink.csv.delimiter", `want a single ASCII character other than NUL, not "\x00"`},
		}},
		{"NUL quote and comment", doc(
			"source:",
			"  csv:",
			"    quote: \"\\0\"",
			"    comment: \"\\0\"",
			"fields:",
			"  - name: a",
		), []wantErr{
			{3, "source.csv.quote", `want a single ASCII character other than NUL, not "\x00"`},
			{4, "source.csv.comment", `want a single ASCII character other than NUL, not "\x00"`},
		}},
		{"source delimiter is the default quote", doc(
			"source:",
			"  csv:",
			"    delimiter: '\"'",
			"fields:",
			"  - name: a",
		), []wantErr{{3, "source.csv.delimiter", `delimiter and quote are both '"', which would make the input ambiguous`}}},
		{"source quote is the default delimiter", doc(
			"source:",
			"  csv:",
			"    quote: ','",
			"fields:",
			"  - name: a",
		), []wantErr{{3, "source.csv.quote", `delimiter and quote are both ',', which would make the input ambiguous`}}},
		{"source delimiter and quote set alike", doc(
			"source:",
			"  csv:",
			"    delimiter: ';'",
			"    quote: ';'",
			"fields:",
			"  - name: a",
		), []wantErr{{3, "source.csv.delimiter", `delimiter and quote are both ';', which would make the input ambiguous`}}},
		{"source comment is the delimiter or the quote", doc(
			"source:",
			"  csv: {delimiter: tab, comment: \"\\t\"}",
			"fields:",
			"  - name: a",
		), []wantErr{{2, "source.csv.comment", `comment and delimiter are both '\t', which would make the input ambiguous`}}},
		{"source comment is the quote", doc(
			"source:",
			"  csv: {comment: '\"'}",
			"fields:",
			"  - name: a",
		), []wantErr{{2, "source.csv.comment", `comment and quote are both '"', which would make the input ambiguous`}}},
		{"scale on a non-decimal", doc(
			"fields:",
			"  - name: a",
			"    type: float",
			"    scale: 2",
		), []wantErr{{4, "fields[0].scale", "scale applies to decimal fields only"}}},
		{"scale out of range", doc(
			"fields:",
			"  - name: a",
			"    type: decimal",
			"    scale: 19",
		), []wantErr{{4, "fields[0].scale", "scale must be 0 to 18"}}},
		{"derive scale out of range", doc(
			"fields:",
			"  - name: a",
			"derive:",
			"  - name: b",
			"    expr: '1'",
			"    type: decimal",
			"    scale: 19",
		), []wantErr{{7, "derive[0].scale", "scale must be 0 to 18"}}},
		{"derive scale without decimal type", doc(
			"fields:",
			"  - name: a",
			"derive:",
			"  - {name: b, expr: '1', scale: 2}",
		), []wantErr{{4, "derive[0].scale", "scale applies to decimal fields only"}}},
		{"layouts on a non-time field", doc(
			"fields:",
			"  - name: a",
			"    type: int",
			"    layouts: [unix]",
		), []wantErr{{4, "fields[0].layouts", "layouts apply to timestamp and date fields only"}}},
		{"unknown time zone", doc(
			"fields:",
			"  - name: a",
			"    type: timestamp",
			"    timezone: Mars/Olympus",
		), []wantErr{{4, "fields[0].timezone", `unknown time zone "Mars/Olympus"`}}},
		{"length on a non-string", doc(
			"fields:",
			"  - name: a",
			"    type: int",
			"    rules:",
			"      length: {max: 3}",
		), []wantErr{{5, "fields[0].rules.length", "length applies to string fields only"}}},
		{"length min above max", doc(
			"fields:",
			"  - name: a",
			"    rules:",
			"      length: {min: 3, max: 2}",
		), []wantErr{{4, "fields[0].rules.length", "min must be >= 0 and <= max"}}},
		{"min on a string", doc(
			"fields:",
			"  - name: a",
			"    rules:",
			"      min: 1",
		), []wantErr{{3, "fields[0].rules", "min and max apply to numbers, timestamps and dates; use length for strings"}}},
		{"missing expressions", doc(
			"fields:",
			"  - name: a",
			"derive:",
			"  - name: b",
			"validate:",
			"  - name: c",
			"filter:",
			"  - name: d",
		), []wantErr{
			{4, "derive[0].expr", "an expression is required"},
			{6, "validate[0].expr", "an expression is required"},
			{8, "filter[0].expr", "an expression is required"},
		}},
		{"filter name used twice", doc(
			"fields:",
			"  - name: a",
			"filter:",
			"  - {name: filter2, expr: 'true'}",
			"  - {expr: 'true'}",
		), []wantErr{{5, "filter[1].name", `filter name "filter2" is used twice`}}},
		{"negative limits", doc(
			"fields:",
			"  - name: a",
			"sink: {max_open_files: -1}",
			"limits: {expr_max_nodes: -1}",
		), []wantErr{
			{3, "sink", "file limits must not be negative"},
			{4, "limits", "limits must not be negative"},
		}},
		{"duplicate key", doc(
			"fields:",
			"  - name: a",
			"fields:",
			"  - name: b",
		), []wantErr{{3, "fields", `mapping key "fields" already defined at line 1`}}},
		{"JSON spec with an unknown key", doc(
			`{`,
			`  "version": 1,`,
			`  "fields": [`,
			`    {"name": "a", "type": "int"},`,
			`    {"name": "b", "tpye": "int"}`,
			`  ]`,
			`}`,
		), []wantErr{{5, "fields[1].tpye", `unknown key "tpye"`}}},
		{"JSON spec with a wrong type", doc(
			`{"fields": [{"name": "a", "type": "decimal", "scale": "abc"}]}`,
		), []wantErr{{1, "fields[0].scale", "wrong type: cannot unmarshal !!str `abc` into an integer"}}},
		{"JSON spec with a check error", doc(
			`{`,
			`  "fields": [{"name": "a"}],`,
			`  "dedup": {"keys": ["zz"]}`,
			`}`,
		), []wantErr{{3, "dedup.keys[0]", `unknown field "zz"`}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := spec.Parse("bad.yaml", []byte(tc.doc))
			if err == nil {
				t.Fatalf("Parse succeeded; want errors %v", tc.want)
			}
			if s != nil {
				t.Errorf("Parse returned a spec with an error")
			}
			got := specErrors(t, err)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(got), len(tc.want), err)
			}
			for i, w := range tc.want {
				e := got[i]
				if e.File != "bad.yaml" || e.Line != w.line || e.Key != w.key || !strings.Contains(e.Msg, w.msg) {
					t.Errorf("error %d = {File:%q Line:%d Key:%q Msg:%q}\nwant {File:\"bad.yaml\" Line:%d Key:%q Msg containing %q}",
						i, e.File, e.Line, e.Key, e.Msg, w.line, w.key, w.msg)
				}
				prefix := "bad.yaml: "
				if w.line > 0 {
					prefix = fmt.Sprintf("bad.yaml:%d", w.line)
				}
				if text := e.Error(); !strings.HasPrefix(text, prefix) || !strings.Contains(text, " "+w.key+": ") {
					t.Errorf("error %d text %q does not start with %q and name the key %q", i, text, prefix, w.key)
				}
			}
			if !strings.Contains(err.Error(), "bad.yaml:") {
				t.Errorf("error text %q does not name the file", err)
			}
		})
	}
}

func TestParseWindowErrors(t *testing.T) {
	head := "fields:\n  - {name: k}\n  - {name: t, type: timestamp}\n  - {name: v, type: int}\n  - {name: s}\n"
	tests := []struct{ name, window, key, msg string }{
		{"tumbling without size", "{kind: tumbling}", "window.size", "need a size"},
		{"hop not dividing size", "{kind: sliding, size: 10m, hop: 3m}", "window.hop", "whole multiple"},
		{"count without every", "{kind: count}", "window.every", "every > 0"},
		{"count with time", "{kind: count, every: 5, time_field: t}", "window", "do not apply"},
		{"event time without field", "{kind: tumbling, size: 1m, time: event}", "window.time_field", "need the timestamp field"},
		{"time field unknown", "{kind: tumbling, size: 1m, time_field: when}", "window.time_field", `unknown field "when"`},
		{"time field not a time", "{kind: tumbling, size: 1m, time_field: v}", "window.time_field", "not a timestamp"},
		{"arrival with a field", "{kind: tumbling, size: 1m, time: arrival, time_field: t}", "window.time_field", "remove time_field"},
		{"unknown group field", "{kind: tumbling, size: 1m, group_by: [nope]}", "window.group_by[0]", `unknown field "nope"`},
		{"string aggregate", "{kind: tumbling, size: 1m, aggregate: [s]}", "window.aggregate[0]", "only int, float and decimal"},
		{"native sliding", "{kind: sliding, size: 2m, hop: 1m, native: true}", "window.native", "tumbling only"},
		{"native event time", "{kind: tumbling, size: 1m, time_field: t, native: true}", "window.native", "by arrival time"},
		{"native too long", "{kind: tumbling, size: 20m, native: true}", "window.size", "up to 15m"},
		{"native lateness", "{kind: tumbling, size: 1m, native: true, lateness: 5s}", "window.lateness", "no lateness"},
		{"negative lateness", "{kind: tumbling, size: 1m, lateness: -5s}", "window.lateness", "must not be negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := spec.Parse("w.yaml", []byte(head+"window: "+tc.window+"\n"))
			var errs spec.Errors
			if !errors.As(err, &errs) || len(errs) != 1 {
				t.Fatalf("want one error, got %v", err)
			}
			if e := errs[0]; e.Key != tc.key || !strings.Contains(e.Msg, tc.msg) || e.Line != 6 {
				t.Fatalf("error = line %d key %q msg %q; want line 6 key %q msg containing %q", e.Line, e.Key, e.Msg, tc.key, tc.msg)
			}
		})
	}
}

func TestParseWindowDefaults(t *testing.T) {
	sp, err := spec.Parse("w.yaml", []byte("fields: [{name: k}, {name: t, type: timestamp}]\nwindow: {kind: tumbling, size: 90s, time_field: t}\n"))
	if err != nil {
		t.Fatal(err)
	}
	w := sp.Window
	if w.Time != spec.WindowEventTime || w.Late != window.LateDrop || time.Duration(w.Size) != 90*time.Second || sp.Stream.OnFailure != spec.OnFailureReport {
		t.Fatalf("defaults = %+v, stream %+v", *w, sp.Stream)
	}
	sp, err = spec.Parse("w.yaml", []byte("fields: [{name: k}]\nwindow: {kind: tumbling, size: 1m}\n"))
	if err != nil || sp.Window.Time != spec.WindowArrivalTime {
		t.Fatalf("no time field: %v %+v", err, sp)
	}
}

func TestParseErrorsWithoutKey(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		line int
		msg  string
	}{
		{"empty", "", 0, "spec is empty"},
		{"comment only", "# nothing\n", 0, "spec is empty"},
		{"not a mapping", "just some text\n", 1, "wrong type: cannot unmarshal !!str `just so...` into a mapping"},
		{"too large", "name: x\n" + strings.Repeat("#", spec.MaxSpecBytes), 0, "spec is larger than 1048576 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := spec.Parse("bad.yaml", []byte(tc.doc))
			got := specErrors(t, err)
			if len(got) != 1 {
				t.Fatalf("got %d errors, want 1: %v", len(got), err)
			}
			e := got[0]
			if e.File != "bad.yaml" || e.Line != tc.line || e.Key != "" || e.Msg != tc.msg {
				t.Errorf("got %+v, want line %d, no key, message %q", *e, tc.line, tc.msg)
			}
		})
	}
}

func TestParseSyntaxError(t *testing.T) {
	_, err := spec.Parse("bad.yaml", []byte(doc("fields:", "  - name: a", "  bad: [")))
	got := specErrors(t, err)
	if len(got) != 1 || got[0].File != "bad.yaml" || got[0].Line == 0 || got[0].Key != "" || got[0].Msg == "" {
		t.Fatalf("got %v, want one error with a line and no key", err)
	}
	if !strings.HasPrefix(err.Error(), fmt.Sprintf("bad.yaml:%d: ", got[0].Line)) {
		t.Errorf("error text %q", err)
	}
}

func TestErrorText(t *testing.T) {
	tests := []struct {
		e    spec.Error
		want string
	}{
		{spec.Error{File: "a.yaml", Line: 3, Col: 5, Key: "fields[0].type", Msg: "bad"}, "a.yaml:3:5: fields[0].type: bad"},
		{spec.Error{File: "a.yaml", Line: 3, Key: "k", Msg: "bad"}, "a.yaml:3: k: bad"},
		{spec.Error{File: "a.yaml", Msg: "spec is empty"}, "a.yaml: spec is empty"},
	}
	for _, tc := range tests {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
	es := spec.Errors{&tests[0].e, &tests[1].e}
	if got, want := es.Error(), "a.yaml:3:5: fields[0].type: bad\na.yaml:3: k: bad"; got != want {
		t.Errorf("Errors.Error() = %q, want %q", got, want)
	}
	var target *spec.Error
	if !errors.As(fmt.Errorf("wrapped: %w", es), &target) || target != &tests[0].e {
		t.Errorf("errors.As through Errors did not find the first error")
	}
}

func TestErrorfFindsNearestKey(t *testing.T) {
	s, err := spec.Parse("s.yaml", []byte(doc(
		"fields:",
		"  - name: a",
		"    rules:",
		"      regex: x",
	)))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key       string
		line, col int
	}{
		{"fields[0].rules.regex", 4, 7},
		{"fields[0].rules.expr", 3, 5}, // absent: the enclosing key
		{"fields[0].name", 2, 5},
		{"fields[0]", 2, 5},
		{"limits.expr_max_nodes", 0, 0}, // nothing encloses it
	}
	for _, tc := range tests {
		e := s.Errorf(tc.key, "msg %d", 1)
		if e.File != "s.yaml" || e.Line != tc.line || e.Col != tc.col || e.Key != tc.key || e.Msg != "msg 1" {
			t.Errorf("Errorf(%q) = %+v, want line %d col %d", tc.key, *e, tc.line, tc.col)
		}
	}
}

func TestLoadOrdersExample(t *testing.T) {
	s, err := spec.LoadFile(ordersSpec)
	if err != nil {
		t.Fatal(err)
	}
	if s.File() != ordersSpec {
		t.Errorf("File() = %q", s.File())
	}
	if s.Version != 1 || s.Name != "orders" {
		t.Errorf("version %d, name %q", s.Version, s.Name)
	}
	if s.Source.Format != "auto" || s.Source.Compression != "auto" || !s.Source.CSV.HasHeader() ||
		s.Source.CSV.Delimiter != "," || s.Source.MaxRecordBytes != 64<<10 {
		t.Errorf("source = %+v", s.Source)
	}
	var names, types []string
	for _, f := range s.Fields {
		names = append(names, f.Name)
		types = append(types, f.Type)
	}
	wantNames := []string{"order_id", "customer_id", "email", "amount", "currency", "status", "country", "created_at"}
	wantTypes := []string{"int", "int", "string", "decimal", "string", "string", "string", "timestamp"}
	if !reflect.DeepEqual(names, wantNames) || !reflect.DeepEqual(types, wantTypes) {
		t.Errorf("fields %v %v", names, types)
	}
	if f := s.Fields[1]; f.From != "user_id" || f.Source() != "user_id" || s.Fields[0].Source() != "order_id" {
		t.Errorf("customer_id reads %q", f.Source())
	}
	if f := s.Fields[3]; f.Scale != 2 || !f.Required || *f.Rules.Min != "0" || *f.Rules.Max != "100000" {
		t.Errorf("amount = %+v", f)
	}
	wantClean := []spec.CleanStep{{Op: "trim"}, {Op: "upper"}, {Op: "default", Values: []string{"USD"}}}
	if got := s.Fields[4].Clean; !reflect.DeepEqual(got, wantClean) {
		t.Errorf("currency clean = %+v", got)
	}
	wantClean = []spec.CleanStep{{Op: "trim"}, {Op: "upper"}, {Op: "null_if", Values: []string{"", "N/A", "-"}}}
	if got := s.Fields[6].Clean; !reflect.DeepEqual(got, wantClean) {
		t.Errorf("country clean = %+v", got)
	}
	if l := s.Fields[6].Rules.Length; l == nil || *l.Min != 2 || *l.Max != 2 {
		t.Errorf("country length = %+v", l)
	}
	if got := s.Fields[5].Rules.Enum; !reflect.DeepEqual(got, []string{"paid", "pending", "refunded", "cancelled"}) {
		t.Errorf("status enum = %v", got)
	}
	if f := s.Fields[7]; !reflect.DeepEqual(f.Layouts, []string{"2006-01-02T15:04:05Z07:00", "2006-01-02 15:04:05"}) || f.Timezone != "UTC" {
		t.Errorf("created_at = %+v", f)
	}
	if len(s.Derive) != 2 || s.Derive[0] != (spec.Derive{Name: "amount_cents", Expr: "round(amount * 100)", Type: "int"}) ||
		s.Derive[1] != (spec.Derive{Name: "large_order", Expr: "amount >= 500"}) {
		t.Errorf("derive = %+v", s.Derive)
	}
	if len(s.Validate) != 1 || s.Validate[0].Name != "refund_has_amount" {
		t.Errorf("validate = %+v", s.Validate)
	}
	if !reflect.DeepEqual(s.Filter, spec.Filters{{Name: "not_cancelled", Expr: `status != "cancelled"`}}) {
		t.Errorf("filter = %+v", s.Filter)
	}
	if s.Dedup == nil || !reflect.DeepEqual(s.Dedup.Keys, []string{"order_id"}) || s.Dedup.MaxKeys != 0 {
		t.Errorf("dedup = %+v", s.Dedup)
	}
	if s.Sink.Format != "jsonl" || s.Sink.MaxRowsPerFile != 100000 ||
		!reflect.DeepEqual(s.Sink.PartitionBy, []spec.Partition{{Key: "dt", Field: "created_at"}}) {
		t.Errorf("sink = %+v", s.Sink)
	}
	if s.Rejects != (spec.Rejects{Policy: "quarantine", MaxRatio: 0.5}) {
		t.Errorf("rejects = %+v", s.Rejects)
	}
	if s.Limits != (spec.Limits{}) {
		t.Errorf("limits = %+v", s.Limits)
	}
}

func TestLoadFileMissing(t *testing.T) {
	_, err := spec.LoadFile("testdata/does-not-exist.yaml")
	if !errors.Is(err, os.ErrNotExist) || !strings.HasPrefix(err.Error(), "read spec: ") {
		t.Errorf("err = %v", err)
	}
}

func TestParseDefaults(t *testing.T) {
	s, err := spec.Parse("d.yaml", []byte(doc(
		"fields:",
		"  - name: a",
		"  - {name: b, type: int}",
		"validate:",
		"  - expr: 'true'",
		"  - {name: named, expr: 'true'}",
		"  - expr: 'true'",
		"filter:",
		"  - expr: 'true'",
		"  - {name: mine, expr: 'true'}",
		"  - expr: 'true'",
	)))
	if err != nil {
		t.Fatal(err)
	}
	if s.Version != 1 || s.Fields[0].Type != "string" || s.Fields[1].Type != "int" || s.Rejects.Policy != "quarantine" {
		t.Errorf("defaults: version %d, types %q %q, policy %q", s.Version, s.Fields[0].Type, s.Fields[1].Type, s.Rejects.Policy)
	}
	var checks, filters []string
	for _, c := range s.Validate {
		checks = append(checks, c.Name)
	}
	for _, f := range s.Filter {
		filters = append(filters, f.Name)
	}
	if !reflect.DeepEqual(checks, []string{"check1", "named", "check3"}) || !reflect.DeepEqual(filters, []string{"filter1", "mine", "filter3"}) {
		t.Errorf("names: checks %v, filters %v", checks, filters)
	}
	if s.Dedup != nil || s.Sink.Format != "" || s.Source.CSV.Header != nil || !s.Source.CSV.HasHeader() {
		t.Errorf("unset sections: dedup %v, sink %+v, csv %+v", s.Dedup, s.Sink, s.Source.CSV)
	}
}

// The report key: off without it, and it leaves the spec hash of a spec
// without it as it was (its JSON form omits it).
func TestParseReport(t *testing.T) {
	base := doc("fields:", "  - name: a")
	for _, tc := range []struct {
		extra        string
		html, values bool
	}{
		{"", false, false},
		{"report: {html: true}\n", true, false},
		{"report: {show_values: true}\n", false, true},
		{"report: {html: true, show_values: true}\n", true, true},
	} {
		s, err := spec.Parse("r.yaml", []byte(base+tc.extra))
		if err != nil {
			t.Fatal(err)
		}
		if s.ReportHTML() != tc.html || s.ShowValues() != tc.values {
			t.Errorf("%q: html %v, values %v", tc.extra, s.ReportHTML(), s.ShowValues())
		}
		data, _ := json.Marshal(s)
		if got := strings.Contains(string(data), `"report":`); got != (tc.extra != "") {
			t.Errorf("%q: JSON form %s", tc.extra, data)
		}
	}
}

func TestParseFilterForms(t *testing.T) {
	tests := []struct {
		yaml string
		want spec.Filters
	}{
		{`filter: a != ""`, spec.Filters{{Name: "filter", Expr: `a != ""`}}},
		{`filter: "true"`, spec.Filters{{Name: "filter", Expr: "true"}}},
		{"filter: [{name: x, expr: 'true'}, {expr: 'false'}]", spec.Filters{{Name: "x", Expr: "true"}, {Name: "filter2", Expr: "false"}}},
		{"filter:", nil},
		{"filter: []", spec.Filters{}},
	}
	for _, tc := range tests {
		s, err := spec.Parse("f.yaml", []byte("fields: [{name: a}]\n"+tc.yaml+"\n"))
		if err != nil {
			t.Errorf("%s: %v", tc.yaml, err)
			continue
		}
		if !reflect.DeepEqual(s.Filter, tc.want) {
			t.Errorf("%s: filter = %#v, want %#v", tc.yaml, s.Filter, tc.want)
		}
	}
}

func TestParseCleanSteps(t *testing.T) {
	s, err := spec.Parse("c.yaml", []byte(doc(
		"fields:",
		"  - name: a",
		"    clean:",
		"      - trim",
		"      - lower",
		"      - upper",
		"      - collapse_spaces",
		"      - null_if: N/A",
		"      - null_if: ['', '-', 0]",
		"      - default: 7",
		"      - null_if: [null, ~, x]", // YAML nulls in a list are dropped
		"      - null_if: null",         // but a single value is its text
		"      - default: null",
	)))
	if err != nil {
		t.Fatal(err)
	}
	want := []spec.CleanStep{
		{Op: "trim"}, {Op: "lower"}, {Op: "upper"}, {Op: "collapse_spaces"},
		{Op: "null_if", Values: []string{"N/A"}},
		{Op: "null_if", Values: []string{"", "-", "0"}},
		{Op: "default", Values: []string{"7"}},
		{Op: "null_if", Values: []string{"x"}},
		{Op: "null_if", Values: []string{"null"}},
		{Op: "default", Values: []string{"null"}},
	}
	if !reflect.DeepEqual(s.Fields[0].Clean, want) {
		t.Errorf("clean = %q", s.Fields[0].Clean)
	}
}

func TestParseJSONSpec(t *testing.T) {
	s, err := spec.Parse("p.json", []byte(`{
  "version": 1,
  "name": "p",
  "source": {"format": "jsonl", "compression": "gzip", "max_record_bytes": 4096},
  "fields": [
    {"name": "id", "type": "int", "required": true},
    {"name": "amount", "from": "amt", "type": "decimal", "scale": 2, "rules": {"min": 0, "max": "10.5"}},
    {"name": "tag", "clean": ["trim", {"null_if": ["", "-"]}, {"default": "none"}], "rules": {"enum": ["none", "a"]}}
  ],
  "derive": [{"name": "cents", "expr": "amount * 100", "type": "int"}],
  "filter": "id > 0",
  "dedup": {"keys": ["id"], "max_keys": 1000},
  "sink": {"format": "parquet", "compression": "snappy", "partition_by": [{"key": "t", "field": "tag"}]},
  "rejects": {"policy": "fail"},
  "limits": {"max_input_bytes": "1GiB", "expr_max_nodes": 100}
}`))
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "p" || s.Source.Format != "jsonl" || s.Source.MaxRecordBytes != 4096 || len(s.Fields) != 3 ||
		s.Fields[1].Source() != "amt" || *s.Fields[1].Rules.Min != "0" || *s.Fields[1].Rules.Max != "10.5" ||
		s.Filter[0] != (spec.Filter{Name: "filter", Expr: "id > 0"}) || s.Dedup.MaxKeys != 1000 ||
		s.Sink.Compression != "snappy" || s.Rejects.Policy != "fail" || s.Limits.MaxInputBytes != 1<<30 || s.Limits.ExprMaxNodes != 100 {
		t.Errorf("spec = %+v", s)
	}
	if got := s.Fields[2].Clean; len(got) != 3 || !reflect.DeepEqual(got[1].Values, []string{"", "-"}) || got[2].Values[0] != "none" {
		t.Errorf("clean = %+v", got)
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"123", 123, true},
		{"5B", 5, true},
		{"64KiB", 64 << 10, true},
		{" 64 KiB ", 64 << 10, true},
		{"1KB", 1000, true},
		{"10MB", 10_000_000, true},
		{"10MiB", 10 << 20, true},
		{"2GB", 2_000_000_000, true},
		{"2GiB", 2 << 30, true},
		{"3TB", 3_000_000_000_000, true},
		{"3TiB", 3 << 40, true},
		{"9223372036854775807", 1<<63 - 1, true},
		{"8388607TiB", 8388607 << 40, true},
		{"8388608TiB", 0, false}, // 2^63: overflows
		{"9223372036854775808", 0, false},
		{"10000000TiB", 0, false},
		{"", 0, false},
		{"MiB", 0, false},
		{"-1", 0, false},
		{"1.5MiB", 0, false},
		{"64kib", 0, false},
		{"64K", 0, false},
		{"64 KiB B", 0, false},
		{"0x10", 0, false},
		{"1_000", 0, false},
	}
	for _, tc := range tests {
		got, err := spec.ParseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestSizeFromYAML(t *testing.T) {
	s, err := spec.Parse("s.yaml", []byte(doc(
		"fields: [{name: a}]",
		"source: {max_record_bytes: 65536}",
		"sink: {max_bytes_per_file: 128MiB}",
		"limits: {max_input_bytes: 1GB, max_decompressed_bytes: '2 GiB'}",
	)))
	if err != nil {
		t.Fatal(err)
	}
	if s.Source.MaxRecordBytes != 65536 || s.Sink.MaxBytesPerFile != 128<<20 || s.Limits.MaxInputBytes != 1e9 || s.Limits.MaxDecompressedBytes != 2<<30 {
		t.Errorf("sizes: %d %d %d %d", s.Source.MaxRecordBytes, s.Sink.MaxBytesPerFile, s.Limits.MaxInputBytes, s.Limits.MaxDecompressedBytes)
	}
}

func TestCharOption(t *testing.T) {
	tests := []struct {
		in   string
		want byte
		ok   bool
	}{
		{"", 0, true},
		{",", ',', true},
		{";", ';', true},
		{"|", '|', true},
		{"tab", '\t', true},
		{`\t`, '\t', true},
		{"\t", '\t', true},
		{"ab", 0, false},
		{"\n", 0, false},
		{"\r", 0, false},
		{"é", 0, false},
		{"TAB", 0, false},
		{"\x00", 0, false},
		{"\x80", 0, false},
	}
	for _, tc := range tests {
		got, err := spec.CharOption(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("CharOption(%q) = %q, %v; want %q, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
