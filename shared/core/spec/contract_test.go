package spec_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/spec"
)

func TestParseContractErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []wantErr
	}{
		{"bad unknown_columns", doc(
			"source:",
			"  unknown_columns: drop",
			"fields:",
			"  - name: a",
		), []wantErr{{2, "source.unknown_columns", `want ignore, reject or fail, not "drop"`}}},
		{"bad missing_columns, reported once", doc(
			"source: {missing_columns: skip}",
			"fields:",
			"  - name: a",
			"  - name: b",
		), []wantErr{{1, "source.missing_columns", `want fail or null, not "skip"`}}},
		{"bad field missing", doc(
			"fields:",
			"  - name: a",
			"  - name: b",
			"    missing: ignore",
		), []wantErr{{4, "fields[1].missing", `want fail or null, not "ignore"`}}},
		{"missing is not a list", doc(
			"fields:",
			"  - {name: a, missing: [null]}",
		), []wantErr{{2, "fields[0].missing", "wrong type"}}},
		{"the source's and a field's own", doc(
			"source: {missing_columns: nul}",
			"fields:",
			"  - {name: a, missing: fial}",
		), []wantErr{
			{1, "source.missing_columns", `want fail or null, not "nul"`},
			{3, "fields[0].missing", `want fail or null, not "fial"`},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := spec.Parse("bad.yaml", []byte(tc.doc))
			if err == nil {
				t.Fatal("no error")
			}
			got := specErrors(t, err)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(got), len(tc.want), err)
			}
			for i, w := range tc.want {
				if e := got[i]; e.Line != w.line || e.Key != w.key || !strings.Contains(e.Msg, w.msg) {
					t.Errorf("error %d = %v\nwant line %d, key %s, message containing %q", i, e, w.line, w.key, w.msg)
				}
			}
		})
	}
}

// A field's missing policy is its own, else the source's; empty stays
// empty, each format's own behaviour. A bare YAML null (or ~, or JSON
// null) is the policy null, not the default.
func TestParseContractDefaults(t *testing.T) {
	tests := []struct {
		name    string
		source  string
		fields  string
		unknown codec.UnknownPolicy
		missing codec.MissingPolicy
		fieldsM []codec.MissingPolicy
	}{
		{"none", "", "[{name: a}, {name: b}]", "", "", []codec.MissingPolicy{"", ""}},
		{"field only", "", "[{name: a}, {name: b, missing: fail}]", "", "", []codec.MissingPolicy{"", "fail"}},
		{"source inherited", "{missing_columns: fail, unknown_columns: reject}", "[{name: a}, {name: b, missing: 'null'}]", "reject", "fail", []codec.MissingPolicy{"fail", "null"}},
		{"bare null at the source", "{missing_columns: null}", "[{name: a}, {name: b, missing: fail}]", "", "null", []codec.MissingPolicy{"null", "fail"}},
		{"bare null and ~ on fields", "{unknown_columns: ignore}", "[{name: a, missing: null}, {name: b, missing: ~}, {name: c, missing: Null}]", "ignore", "", []codec.MissingPolicy{"null", "null", "null"}},
		{"empty value is the default", "{missing_columns: }", "[{name: a, missing: }]", "", "", []codec.MissingPolicy{""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := "fields: " + tc.fields + "\n"
			if tc.source != "" {
				src = "source: " + tc.source + "\n" + src
			}
			s, err := spec.Parse("c.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			if s.Source.UnknownColumns != tc.unknown || s.Source.MissingColumns != tc.missing {
				t.Errorf("source: unknown %q, missing %q; want %q, %q", s.Source.UnknownColumns, s.Source.MissingColumns, tc.unknown, tc.missing)
			}
			for i, want := range tc.fieldsM {
				if got := s.Fields[i].Missing; got != want {
					t.Errorf("fields[%d].missing = %q, want %q", i, got, want)
				}
			}
		})
	}
}

func TestParseContractJSONNull(t *testing.T) {
	s, err := spec.Parse("c.json", []byte(`{"source": {"missing_columns": "fail"}, "fields": [{"name": "a", "missing": null}, {"name": "b"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if s.Fields[0].Missing != codec.MissingNull || s.Fields[1].Missing != codec.MissingFail {
		t.Errorf("missing = %q, %q; want null, fail", s.Fields[0].Missing, s.Fields[1].Missing)
	}
}

// A spec that sets no contract hashes as it did before contracts: the
// canonical JSON has none of their keys, so run ids do not change.
func TestContractKeysLeaveTheHashAlone(t *testing.T) {
	s, err := spec.LoadFile(ordersSpec)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"unknown_columns"`, `"missing_columns"`, `"missing"`} {
		if strings.Contains(string(data), key) {
			t.Errorf("the canonical JSON of a spec without contracts has %s: %s", key, data)
		}
	}
}
