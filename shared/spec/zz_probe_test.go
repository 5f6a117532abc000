package spec_test

import (
	"fmt"
	"testing"

	"github.com/sluice-etl/sluice/shared/spec"
)

func TestZZProbe(t *testing.T) {
	docs := []string{
		"version: 1\nfields:\n  - name: a\n  - name: b\n    rulez: {regex: x}\n",
		"version: 1\nfields:\n  - name: a\n    type: decimal\n    scale: abc\n",
		"version: 1\nfields:\n  - name: a\nsink:\n  max_rows_per_file: \"x\"\n",
		"version: 1\nfields:\n  - name: a\nfilter:\n  - name: x\n    exprr: a\n",
		"version: 1\nfields:\n  - name: a\nbogus: 1\n",
		"version: 1\nfields:\n  - name: a\nsource:\n  max_record_bytes: 12XB\n",
		"version: 1\nfields:\n  - name: a\n    clean: [trim, foo]\n",
		"version: 1\nfields:\n  - name: a\n    clean: [trim, {null_if: {a: b}}]\n",
		"version: 1\nfields:\n  - name: a\n    rules: {min: [1]}\n",
		"version: 1\nfields:\n  - name: a\nderive:\n  - name: d\n    expr: '1'\n    type: decimal\n    scale: 30\n",
		"{\"version\": 1,\n \"fields\": [{\"name\": \"a\"},\n  {\"name\": \"b\", \"bad\": 1}]}\n",
		"",
		"foo",
		"version: 1\nfields:\n  - name: a\nsource: {csvx: {header: true}}\n",
		"version: 1\nfields:\n  - name: a\nfilter: [{expr: 'true'}, {name: filter1, expr: 'true'}]\n",
		"version: 1\nfields:\n  - name: a\nrejects: {max_ratio: 2}\nsource: {csv: {header: false}}\n",
		"version: 1\nfields:\n  - name: a\nsink: {partition_by: [{key: 'x y', field: zz}]}\ndedup: {keys: [q]}\n",
	}
	for _, d := range docs {
		s, err := spec.Parse("t.yaml", []byte(d))
		fmt.Printf("=== %q\n  err=%v\n  spec nil=%v\n", d, err, s == nil)
		if es, ok := err.(spec.Errors); ok {
			for _, e := range es {
				fmt.Printf("  %+v\n", *e)
			}
		}
	}
}
