package spec_test

import (
	"os"
	"testing"

	"github.com/sluice-etl/sluice/shared/core/record"
	"github.com/sluice-etl/sluice/shared/core/spec"
)

// FuzzParse checks that Parse never panics, that it returns either a spec
// or an error, and that its errors are spec errors naming the file.
func FuzzParse(f *testing.F) {
	orders, err := os.ReadFile(ordersSpec)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(orders)
	f.Add([]byte(fullSpec))
	f.Add([]byte(`{"version": 1, "fields": [{"name": "a", "type": "decimal", "scale": 2}], "filter": "a > 1"}`))
	f.Add([]byte(""))
	f.Add([]byte("fields: [{name: a, clean: [trim, {null_if: [x, '']}, {default: y}]}]\n"))
	f.Add([]byte("fields: [{name: a}]\nfilter: [{name: x, exprr: a}]\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("fields:\n  - &f {name: a}\n  - *f\n"))
	f.Add([]byte("fields: [{name: a, <<: {type: int}}]\n"))
	for _, src := range badForSchema {
		f.Add([]byte(src))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := spec.Parse("fuzz.yaml", data)
		if err == nil {
			if s == nil {
				t.Fatal("Parse returned neither a spec nor an error")
			}
			if s.Version != 1 || len(s.Fields) == 0 || s.File() != "fuzz.yaml" {
				t.Fatalf("accepted spec: version %d, %d fields, file %q", s.Version, len(s.Fields), s.File())
			}
			for _, fl := range s.Fields {
				if _, ok := record.ParseKind(fl.Type); !ok {
					t.Fatalf("accepted field %q with type %q", fl.Name, fl.Type)
				}
			}
			_ = s.Errorf("fields[0].rules.regex", "x")
			return
		}
		if s != nil {
			t.Fatal("Parse returned a spec and an error")
		}
		es := specErrors(t, err)
		if len(es) == 0 {
			t.Fatalf("empty error list: %v", err)
		}
		for _, e := range es {
			if e == nil || e.File != "fuzz.yaml" || e.Msg == "" || e.Line < 0 {
				t.Fatalf("bad error %#v in %v", e, err)
			}
		}
		if err.Error() == "" {
			t.Fatal("empty error text")
		}
	})
}
