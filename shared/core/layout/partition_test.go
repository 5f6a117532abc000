package layout_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/sluice-etl/sluice/shared/core/layout"
)

// Every value a partition folder can hold reads back as written.
func TestPartitionRoundTrip(t *testing.T) {
	values := []string{"2026-11-01", "a/b=c%d", "é ü", "\x00\x1f\x7f\xff", `"#%'*/:=?\{[]^`, "plain value", "-x_", layout.HiveNull}
	for _, v := range values {
		levels := []layout.PartitionLevel{{Key: "k", Value: v}, {Key: "dt", Value: "2026"}}
		folder := layout.PartitionPath(levels)
		if strings.Count(folder, "/") != 1 || strings.Count(folder, "=") != 2 {
			t.Errorf("%q: folder %q has an unescaped / or =", v, folder)
		}
		got, err := layout.ParsePartition(folder)
		if err != nil || !reflect.DeepEqual(got, levels) {
			t.Errorf("ParsePartition(%q) = %v, %v; want %v", folder, got, err, levels)
		}
	}
}

func TestParsePartitionErrors(t *testing.T) {
	if got, err := layout.ParsePartition(""); got != nil || err != nil {
		t.Errorf(`ParsePartition("") = %v, %v`, got, err)
	}
	for _, bad := range []string{"dt", "dt=", "=x", "a=1//b=2", "k=%2", "k=%zz", "k=%4"} {
		if _, err := layout.ParsePartition(bad); err == nil {
			t.Errorf("ParsePartition(%q) succeeded", bad)
		}
	}
}

// PartitionOf finds the folder PartKey put a part in.
func TestPartitionOf(t *testing.T) {
	const run = "0123456789abcdef"
	for _, tc := range []struct{ out, partition string }{
		{"tables/orders", "dt=2026-11-01/k=a%2Fb"},
		{"tables/orders", ""},
		{"", "dt=2026-11-01"},
	} {
		key := layout.PartKey(tc.out, tc.partition, run, 3, "staged/part-00001.jsonl.gz")
		got, err := layout.PartitionOf(tc.out, key)
		if err != nil || got != tc.partition {
			t.Errorf("PartitionOf(%q, %q) = %q, %v; want %q", tc.out, key, got, err, tc.partition)
		}
	}
	for _, key := range []string{"other/dt=1/part-x.csv", "tables/ordersX/part-x.csv", "tables/orders/", "tables/orders"} {
		if _, err := layout.PartitionOf("tables/orders", key); err == nil {
			t.Errorf("PartitionOf(tables/orders, %q) succeeded", key)
		}
	}
}
