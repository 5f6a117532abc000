package spec_test

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/sluice-etl/sluice/shared/core/spec"
)

const schemaFile = "../../../docs/spec.schema.json"

// compileSchema compiles docs/spec.schema.json.
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	data, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", schemaFile, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource("spec.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("spec.schema.json")
	if err != nil {
		t.Fatalf("compile %s: %v", schemaFile, err)
	}
	return sch
}

// schemaJSON reads docs/spec.schema.json as plain JSON.
func schemaJSON(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s: %v", schemaFile, err)
	}
	return m
}

// instance converts a YAML (or JSON) spec to the JSON value the schema
// validates: YAML is decoded with go.yaml.in/yaml/v3, encoded with
// encoding/json and read back by jsonschema.
func instance(t *testing.T, src string) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal([]byte(src), &v); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json: %v", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

// fullSpec uses every key of the spec.
const fullSpec = `version: 1
name: everything
source:
  format: csv
  compression: none
  csv:
    header: false
    columns: [id, amt, note, at, day, ok, ratio]
    delimiter: tab
    quote: "'"
    comment: "#"
    bom: keep
  max_record_bytes: 1MiB
  unknown_columns: reject
  missing_columns: fail
fields:
  - name: id
    type: int
    required: true
    missing: null
    rules: {min: 1, max: 1000000, enum: [1, 2, 3], expr: value > 0}
  - name: amount
    from: amt
    type: decimal
    scale: 2
    clean: [trim, {null_if: ["", "-"]}, {default: "0.00"}]
    rules: {min: "0.00", max: 99.99}
  - name: note
    clean: [trim, lower, upper, collapse_spaces, {null_if: N/A}]
    rules: {regex: '^[A-Z ]*$', length: {min: 0, max: 200}, enum: [A, B]}
    drop: true
  - name: at
    type: timestamp
    layouts: [unix, unix_ms, unix_us, "2006-01-02 15:04:05"]
    timezone: Europe/Paris
  - name: day
    type: date
    layouts: ["2006-01-02"]
    rules: {min: "2020-01-01"}
  - name: ok
    type: bool
  - name: ratio
    type: float
derive:
  - {name: cents, expr: amount * 100, type: int}
  - {name: big, expr: amount > 50}
  - {name: amount3, expr: amount, type: decimal, scale: 3}
validate:
  - {name: positive, expr: amount >= 0}
  - expr: id > 0
filter:
  - {name: keep_ok, expr: ok}
  - expr: ratio < 1
dedup:
  keys: [id, day]
  max_keys: 1000000
sink:
  format: csv
  compression: gzip
  partition_by:
    - {key: dt, field: at, layout: "2006-01-02"}
    - {key: big, field: big}
  max_rows_per_file: 1000
  max_bytes_per_file: 64MiB
  max_open_files: 8
  csv: {delimiter: ";"}
rejects:
  policy: fail
  max_ratio: 0.1
limits:
  max_input_bytes: 10GiB
  max_decompressed_bytes: 100GB
  max_compression_ratio: 50
  expr_max_nodes: 1000
  max_zstd_window: 64MiB
`

func TestSchemaAcceptsValidSpecs(t *testing.T) {
	sch := compileSchema(t)
	orders, err := os.ReadFile(ordersSpec)
	if err != nil {
		t.Fatal(err)
	}
	valid := map[string]string{
		"orders example": string(orders),
		"every key":      fullSpec,
		"minimal":        "fields: [{name: a}]\n",
		"bare filter":    "fields: [{name: a, type: bool}]\nfilter: a\n",
		"parquet snappy": "fields: [{name: a}]\nsink: {format: parquet, compression: snappy}\n",
		"json spec":      `{"version": 1, "fields": [{"name": "a", "type": "decimal", "scale": 2, "rules": {"min": 0}}], "filter": "a > 1"}`,
		"int scale 0":    "fields: [{name: a, type: int, scale: 0}]\n",
		"header true":    "source: {csv: {header: true}}\nfields: [{name: a}]\n",
		"event window":   "fields: [{name: k}, {name: t, type: timestamp}, {name: v, type: int}]\nwindow: {kind: sliding, size: 10m, hop: 1m, time_field: t, group_by: [k], aggregate: [v], lateness: 30s, late: side, keep: 48h}\nstream: {on_failure: fail_fast}\n",
		"native window":  "fields: [{name: k}, {name: v, type: float}]\nwindow: {kind: tumbling, size: 5m, native: true, group_by: [k], aggregate: [v]}\n",
		"count window":   "fields: [{name: k}, {name: v, type: decimal, scale: 2}]\nwindow: {kind: count, every: 100, group_by: [k], aggregate: [v]}\n",
		"tests":          testsForSchema,
	}
	for name, src := range valid {
		t.Run(name, func(t *testing.T) {
			if _, err := spec.Parse(name, []byte(src)); err != nil {
				t.Fatalf("the loader rejects it: %v", err)
			}
			if err := sch.Validate(instance(t, src)); err != nil {
				t.Errorf("the schema rejects it: %v", err)
			}
		})
	}
}

// testsForSchema uses every key of a test case.
const testsForSchema = `fields: [{name: k}, {name: t, type: timestamp}, {name: v, type: int}]
filter: [{name: pos, expr: v > 0}]
window: {kind: tumbling, size: 1m, time_field: t, group_by: [k], aggregate: [v]}
tests:
  - name: file
    input: {csv: "k,t,v\na,2026-11-01T09:00:00Z,1\n"}
    context: {source_key: in.csv}
    expect:
      fields: [k, v]
      rows: [{k: a, v: 1}]
      rejects: [{record: 2, line: 3, field: v, rule: type, reason: not an integer}]
      filtered: {filter:pos: 0}
      counts: {in: 1, out: 1, rejected: 0, filtered: 0, rejected_by_rule: {}}
      windows: [{start: 2026-11-01T09:00:00Z, end: 2026-11-01T09:01:00Z, key: a, count: 1, fields: {v: {count: 1, sum: 1, min: 1, max: 1, avg: 1.0}}}]
      error: ""
  - name: stream
    input: {json: [{k: a, t: "2026-11-01T09:00:00Z", v: 1, n: null}]}
    context: {arrivals: [2026-11-01T09:00:01Z], now: 2026-11-01T09:05:00Z}
    expect: {rows: [{k: a, t: "2026-11-01T09:00:00Z", v: 1}]}
`

// Specs that both the loader and the schema must reject.
var badForSchema = map[string]string{
	"unknown top-level key":       "fields: [{name: a}]\nbogus: 1\n",
	"unknown field key":           "fields: [{name: a, rulez: {}}]\n",
	"unknown rules key":           "fields: [{name: a, rules: {regexp: x}}]\n",
	"unknown source.csv key":      "source: {csv: {headers: true}}\nfields: [{name: a}]\n",
	"unknown sink.csv key":        "fields: [{name: a}]\nsink: {csv: {quote: x}}\n",
	"unknown filter key":          "fields: [{name: a}]\nfilter: [{name: x, exprr: a}]\n",
	"unknown partition key":       "fields: [{name: a}]\nsink: {partition_by: [{key: k, field: a, fmt: x}]}\n",
	"unknown length key":          "fields: [{name: a, rules: {length: {mn: 1}}}]\n",
	"unknown dedup key":           "fields: [{name: a}]\ndedup: {keys: [a], max: 1}\n",
	"unknown window key":          "fields: [{name: a}]\nwindow: {kind: tumbling, size: 1m, groupby: [a]}\n",
	"bad window kind":             "fields: [{name: a}]\nwindow: {kind: session, size: 1m}\n",
	"bad window duration":         "fields: [{name: a}]\nwindow: {kind: tumbling, size: 5 minutes}\n",
	"bad late policy":             "fields: [{name: a}]\nwindow: {kind: tumbling, size: 1m, late: keep}\n",
	"bad on_failure":              "fields: [{name: a}]\nstream: {on_failure: retry}\n",
	"unknown limits key":          "fields: [{name: a}]\nlimits: {max_nodes: 1}\n",
	"unknown rejects key":         "fields: [{name: a}]\nrejects: {ratio: 1}\n",
	"unknown derive key":          "fields: [{name: a}]\nderive: [{name: b, expr: a, kind: int}]\n",
	"unknown validate key":        "fields: [{name: a}]\nvalidate: [{expr: 'true', message: x}]\n",
	"no fields":                   "version: 1\n",
	"empty fields":                "fields: []\n",
	"version 2":                   "version: 2\nfields: [{name: a}]\n",
	"scale is text":               "fields: [{name: a, type: decimal, scale: abc}]\n",
	"max_rows_per_file is text":   "fields: [{name: a}]\nsink: {max_rows_per_file: x}\n",
	"required is text":            "fields: [{name: a, required: sure}]\n",
	"unknown type":                "fields: [{name: a, type: text}]\n",
	"unknown derive type":         "fields: [{name: a}]\nderive: [{name: b, expr: a, type: varchar}]\n",
	"bad source format":           "source: {format: xml}\nfields: [{name: a}]\n",
	"bad source compression":      "source: {compression: bz2}\nfields: [{name: a}]\n",
	"bad sink format":             "fields: [{name: a}]\nsink: {format: avro}\n",
	"snappy for jsonl":            "fields: [{name: a}]\nsink: {compression: snappy}\n",
	"bad clean step":              "fields: [{name: a, clean: [trim, foo]}]\n",
	"bad clean step mapping":      "fields: [{name: a, clean: [{nul_if: x}]}]\n",
	"clean mapping with two keys": "fields: [{name: a, clean: [{null_if: x, default: y}]}]\n",
	"bad identifier":              "fields: [{name: 1a}]\n",
	"bad derive identifier":       "fields: [{name: a}]\nderive: [{name: a-b, expr: a}]\n",
	"max_ratio above 1":           "fields: [{name: a}]\nrejects: {max_ratio: 1.5}\n",
	"max_ratio below 0":           "fields: [{name: a}]\nrejects: {max_ratio: -1}\n",
	"bad policy":                  "fields: [{name: a}]\nrejects: {policy: drop}\n",
	"header false, no columns":    "source: {csv: {header: false}}\nfields: [{name: a}]\n",
	"bad bom":                     "source: {csv: {bom: drop}}\nfields: [{name: a}]\n",
	"bad unknown_columns":         "source: {unknown_columns: warn}\nfields: [{name: a}]\n",
	"bad missing_columns":         "source: {missing_columns: ignore}\nfields: [{name: a}]\n",
	"bad field missing":           "fields: [{name: a, missing: skip}]\n",
	"missing_columns is a list":   "source: {missing_columns: [fail]}\nfields: [{name: a}]\n",
	"bad delimiter":               "source: {csv: {delimiter: ab}}\nfields: [{name: a}]\n",
	"bad size":                    "source: {max_record_bytes: 12XB}\nfields: [{name: a}]\n",
	"fractional size":             "source: {max_record_bytes: 1.5}\nfields: [{name: a}]\n",
	"scale on a float":            "fields: [{name: a, type: float, scale: 2}]\n",
	"scale too large":             "fields: [{name: a, type: decimal, scale: 19}]\n",
	"derive scale too large":      "fields: [{name: a}]\nderive: [{name: b, expr: '1', type: decimal, scale: 19}]\n",
	"derive scale, not decimal":   "fields: [{name: a}]\nderive: [{name: b, expr: '1', scale: 2}]\n",
	"layouts on an int":           "fields: [{name: a, type: int, layouts: [unix]}]\n",
	"length on an int":            "fields: [{name: a, type: int, rules: {length: {max: 2}}}]\n",
	"min on a string":             "fields: [{name: a, rules: {min: 1}}]\n",
	"max on a bool":               "fields: [{name: a, type: bool, rules: {max: 1}}]\n",
	"negative length":             "fields: [{name: a, rules: {length: {min: -1}}}]\n",
	"dedup without keys":          "fields: [{name: a}]\ndedup: {max_keys: 1}\n",
	"negative max_keys":           "fields: [{name: a}]\ndedup: {keys: [a], max_keys: -1}\n",
	"negative max_open_files":     "fields: [{name: a}]\nsink: {max_open_files: -1}\n",
	"negative expr_max_nodes":     "fields: [{name: a}]\nlimits: {expr_max_nodes: -1}\n",
	"bad partition key":           "fields: [{name: a}]\nsink: {partition_by: [{key: 'a b', field: a}]}\n",
	"derive without expr":         "fields: [{name: a}]\nderive: [{name: b}]\n",
	"filter without expr":         "fields: [{name: a}]\nfilter: [{name: b}]\n",
	"JSON with an unknown key":    `{"fields": [{"name": "a", "tpye": "int"}]}`,
	"unknown test key":            "fields: [{name: a}]\ntests: [{name: t, input: {csv: x}, expect: {rows: []}, given: 1}]\n",
	"unknown expect key":          "fields: [{name: a}]\ntests: [{name: t, input: {csv: x}, expect: {row: []}}]\n",
	"test without expect":         "fields: [{name: a}]\ntests: [{name: t, input: {csv: x}}]\n",
	"reject without a rule":       "fields: [{name: a}]\ntests: [{name: t, input: {csv: x}, expect: {rejects: [{record: 1}]}}]\n",
	"reject at record 0":          "fields: [{name: a}]\ntests: [{name: t, input: {csv: x}, expect: {rejects: [{record: 0, rule: x}]}}]\n",
	"row value a list":            "fields: [{name: a}]\ntests: [{name: t, input: {csv: x}, expect: {rows: [{a: [1]}]}}]\n",
}

func TestSchemaRejectsBadSpecs(t *testing.T) {
	sch := compileSchema(t)
	for name, src := range badForSchema {
		t.Run(name, func(t *testing.T) {
			if _, err := spec.Parse(name, []byte(src)); err == nil {
				t.Errorf("the loader accepts it")
			}
			if err := sch.Validate(instance(t, src)); err == nil {
				t.Errorf("the schema accepts it")
			}
		})
	}
}

// The schema's enums list exactly what the loader accepts.
func TestSchemaEnumsMatchLoader(t *testing.T) {
	defs := schemaJSON(t)["$defs"].(map[string]any)
	prop := func(def, key string) map[string]any {
		return defs[def].(map[string]any)["properties"].(map[string]any)[key].(map[string]any)
	}
	enum := func(m map[string]any) []string {
		var out []string
		for _, v := range m["enum"].([]any) {
			if v == nil {
				// The missing column policy null, written as a bare YAML
				// or JSON null.
				out = append(out, "null")
				continue
			}
			out = append(out, v.(string))
		}
		return out
	}
	cleanEnum := enum(defs["cleanStep"].(map[string]any)["oneOf"].([]any)[0].(map[string]any))
	tests := []struct {
		name     string
		values   []string
		template string // %s is replaced by the value
		others   []string
	}{
		{"field type", enum(defs["type"].(map[string]any)), "fields: [{name: a, type: %s}]", []string{"text", "integer", "'null'", "datetime", "String"}},
		{"derive type", enum(defs["type"].(map[string]any)), "fields: [{name: a}]\nderive: [{name: b, expr: a, type: %s}]", []string{"text"}},
		{"source format", enum(prop("source", "format")), "source: {format: %s}\nfields: [{name: a}]", []string{"xml", "tsv", "parquet"}},
		{"source compression", enum(prop("source", "compression")), "source: {compression: %s}\nfields: [{name: a}]", []string{"bz2", "snappy", "gz"}},
		{"bom", enum(prop("sourceCSV", "bom")), "source: {csv: {bom: %s}}\nfields: [{name: a}]", []string{"drop", "yes"}},
		{"sink format", enum(prop("sink", "format")), "fields: [{name: a}]\nsink: {format: %s}", []string{"json", "avro", "auto"}},
		{"parquet compression", enum(prop("sink", "compression")), "fields: [{name: a}]\nsink: {format: parquet, compression: %s}", []string{"lz4", "brotli", "auto"}},
		{"policy", enum(prop("rejects", "policy")), "fields: [{name: a}]\nrejects: {policy: %s}", []string{"drop", "ignore"}},
		{"unknown_columns", enum(prop("source", "unknown_columns")), "source: {unknown_columns: %s}\nfields: [{name: a}]", []string{"drop", "skip", "warn"}},
		{"missing_columns", enum(prop("source", "missing_columns")), "source: {missing_columns: %s}\nfields: [{name: a}]", []string{"ignore", "reject", "nul"}},
		{"field missing", enum(prop("field", "missing")), "fields: [{name: a, missing: %s}]", []string{"ignore", "skip", "default"}},
		{"clean step", cleanEnum, "fields: [{name: a, clean: [%s]}]", []string{"strip", "title", "null_if", "default"}},
	}
	for _, tc := range tests {
		if len(tc.values) == 0 {
			t.Errorf("%s: no enum in the schema", tc.name)
		}
		for _, v := range tc.values {
			doc := strings.ReplaceAll(tc.template, "%s", v)
			if v == "dynamodb" { // the one sink format with required options
				doc = strings.Replace(doc, "format: dynamodb}", "format: dynamodb, table: t, key: [a]}", 1)
				doc = strings.Replace(doc, "fields: [{name: a}]", "fields: [{name: a, required: true}]", 1)
			}
			if _, err := spec.Parse("e.yaml", []byte(doc)); err != nil {
				t.Errorf("%s %q is in the schema but the loader rejects it: %v", tc.name, v, err)
			}
		}
		for _, v := range tc.others {
			if slices.Contains(tc.values, v) {
				t.Errorf("%s %q: test value is in the enum", tc.name, v)
			}
			if _, err := spec.Parse("e.yaml", []byte(strings.ReplaceAll(tc.template, "%s", v))); err == nil {
				t.Errorf("%s %q is not in the schema but the loader accepts it", tc.name, v)
			}
		}
	}
	want := []string{"string", "int", "float", "decimal", "bool", "timestamp", "date"}
	if got := enum(defs["type"].(map[string]any)); !reflect.DeepEqual(got, want) {
		t.Errorf("type enum = %v, want %v", got, want)
	}
	if want := []string{"trim", "lower", "upper", "collapse_spaces"}; !reflect.DeepEqual(cleanEnum, want) {
		t.Errorf("clean step enum = %v, want %v", cleanEnum, want)
	}
}

// The schema's properties are exactly the yaml tags of the spec structs,
// and every object in it forbids other properties.
func TestSchemaMatchesStructTags(t *testing.T) {
	root := schemaJSON(t)
	checked := map[reflect.Type]bool{}
	walkStruct(t, root, root, reflect.TypeOf(spec.Spec{}), "spec", checked)
	for _, typ := range []reflect.Type{
		reflect.TypeOf(spec.Source{}), reflect.TypeOf(spec.CSVOptions{}), reflect.TypeOf(spec.Field{}),
		reflect.TypeOf(spec.Rules{}), reflect.TypeOf(spec.Length{}), reflect.TypeOf(spec.Check{}),
		reflect.TypeOf(spec.Derive{}), reflect.TypeOf(spec.Filter{}), reflect.TypeOf(spec.Dedup{}),
		reflect.TypeOf(spec.Sink{}), reflect.TypeOf(spec.Partition{}), reflect.TypeOf(spec.Rejects{}),
		reflect.TypeOf(spec.Limits{}), reflect.TypeOf(spec.Window{}), reflect.TypeOf(spec.Stream{}),
		reflect.TypeOf(spec.Test{}), reflect.TypeOf(spec.TestInput{}), reflect.TypeOf(spec.TestContext{}),
		reflect.TypeOf(spec.Expect{}), reflect.TypeOf(spec.ExpectReject{}), reflect.TypeOf(spec.ExpectCounts{}),
		reflect.TypeOf(spec.ExpectWindow{}), reflect.TypeOf(spec.ExpectAgg{}),
	} {
		if !checked[typ] {
			t.Errorf("%v was not reached from Spec", typ)
		}
	}
	walkJSON(t, root, "#")
}

var unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()

// yamlKeys returns the yaml keys of a struct type's fields, and the field
// of each.
func yamlKeys(typ reflect.Type) map[string]reflect.StructField {
	keys := map[string]reflect.StructField{}
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		keys[name] = f
	}
	return keys
}

func walkStruct(t *testing.T, root, node map[string]any, typ reflect.Type, where string, checked map[reflect.Type]bool) {
	t.Helper()
	obj := objectSchema(root, node)
	if obj == nil {
		t.Errorf("%s: the schema has no object for %v", where, typ)
		return
	}
	checked[typ] = true
	props, _ := obj["properties"].(map[string]any)
	if ap, ok := obj["additionalProperties"]; !ok || ap != false {
		t.Errorf("%s: additionalProperties is %v, want false", where, ap)
	}
	keys := yamlKeys(typ)
	var missing, extra []string
	for k := range keys {
		if _, ok := props[k]; !ok {
			missing = append(missing, k)
		}
	}
	for k := range props {
		if _, ok := keys[k]; !ok {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("%s (%v): yaml keys missing from the schema: %v", where, typ, missing)
	}
	if len(extra) > 0 {
		t.Errorf("%s (%v): schema properties that are not yaml keys: %v", where, typ, extra)
	}
	for k, f := range keys {
		p, ok := props[k].(map[string]any)
		if !ok {
			continue
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		sub := resolve(root, p)
		if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
			// A list of structs; Filters also takes a bare string.
			items := itemsSchema(root, sub)
			et := ft.Elem()
			if reflect.PointerTo(et).Implements(unmarshalerType) {
				continue // CleanStep: its own syntax, checked by TestSchemaEnumsMatchLoader
			}
			if items == nil {
				t.Errorf("%s.%s: no items schema for %v", where, k, ft)
				continue
			}
			walkStruct(t, root, items, et, where+"."+k+"[]", checked)
			continue
		}
		if ft.Kind() == reflect.Struct && !reflect.PointerTo(ft).Implements(unmarshalerType) {
			walkStruct(t, root, sub, ft, where+"."+k, checked)
		}
		if ft.Kind() == reflect.Map && ft.Elem().Kind() == reflect.Struct && !reflect.PointerTo(ft.Elem()).Implements(unmarshalerType) {
			// A map of structs (a window's aggregates by field): its
			// values' schema is additionalProperties.
			values, _ := sub["additionalProperties"].(map[string]any)
			if values == nil {
				t.Errorf("%s.%s: no schema for the values of %v", where, k, ft)
				continue
			}
			walkStruct(t, root, values, ft.Elem(), where+"."+k+"{}", checked)
		}
	}
}

// resolve follows a local $ref.
func resolve(root, node map[string]any) map[string]any {
	for i := 0; i < 10; i++ {
		ref, ok := node["$ref"].(string)
		if !ok {
			return node
		}
		name, ok := strings.CutPrefix(ref, "#/$defs/")
		if !ok {
			return node
		}
		node = root["$defs"].(map[string]any)[name].(map[string]any)
	}
	return node
}

// objectSchema is node, or the branch of its oneOf that describes an object.
func objectSchema(root, node map[string]any) map[string]any {
	node = resolve(root, node)
	if _, ok := node["properties"]; ok {
		return node
	}
	for _, b := range branches(node) {
		if o := objectSchema(root, b); o != nil {
			return o
		}
	}
	return nil
}

// itemsSchema is the items schema of node, or of the branch of its oneOf
// that describes an array.
func itemsSchema(root, node map[string]any) map[string]any {
	node = resolve(root, node)
	if items, ok := node["items"].(map[string]any); ok {
		return resolve(root, items)
	}
	for _, b := range branches(node) {
		if i := itemsSchema(root, b); i != nil {
			return i
		}
	}
	return nil
}

func branches(node map[string]any) []map[string]any {
	var out []map[string]any
	for _, k := range []string{"oneOf", "anyOf"} {
		list, _ := node[k].([]any)
		for _, b := range list {
			if m, ok := b.(map[string]any); ok {
				out = append(out, m)
			}
		}
	}
	return out
}

// walkJSON checks that every object schema forbids unknown properties,
// or is a map whose values it describes (additionalProperties a schema,
// no properties: a test case's rows and counts by name).
func walkJSON(t *testing.T, v any, where string) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		if v["type"] == "object" {
			ap, ok := v["additionalProperties"]
			_, isMap := ap.(map[string]any)
			if _, props := v["properties"]; !ok || (ap != false && (!isMap || props)) {
				t.Errorf("%s: object schema without additionalProperties: false", where)
			}
		}
		for k, c := range v {
			walkJSON(t, c, where+"/"+k)
		}
	case []any:
		for i, c := range v {
			walkJSON(t, c, where+"/"+strconv.Itoa(i))
		}
	}
}

func TestSchemaDescribesEveryProperty(t *testing.T) {
	root := schemaJSON(t)
	var visit func(node map[string]any, where string)
	visit = func(node map[string]any, where string) {
		if props, ok := node["properties"].(map[string]any); ok && node["additionalProperties"] == false {
			for k, p := range props {
				pm := p.(map[string]any)
				if _, ok := pm["description"]; !ok {
					if _, isRef := pm["$ref"]; !isRef || resolve(root, pm)["description"] == nil {
						t.Errorf("%s.%s has no description", where, k)
					}
				}
			}
		}
		for k, c := range node {
			switch c := c.(type) {
			case map[string]any:
				visit(c, where+"/"+k)
			case []any:
				for _, e := range c {
					if m, ok := e.(map[string]any); ok {
						visit(m, where+"/"+k)
					}
				}
			}
		}
	}
	visit(root, "#")
}

// Filters checks the keys of its items itself (Node.Decode does not
// reject unknown keys): every yaml key of spec.Filter must be accepted.
func TestFilterAcceptsEveryKey(t *testing.T) {
	var kv []string
	for k := range yamlKeys(reflect.TypeOf(spec.Filter{})) {
		kv = append(kv, k+": 'true'")
	}
	sort.Strings(kv)
	src := "fields: [{name: a}]\nfilter:\n  - {" + strings.Join(kv, ", ") + "}\n"
	if _, err := spec.Parse("f.yaml", []byte(src)); err != nil {
		t.Errorf("%s: %v", src, err)
	}
}
