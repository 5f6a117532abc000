package infer_test

import (
	"fmt"
	"strings"

	"github.com/sluice-etl/sluice/shared/core/infer"
)

func Example() {
	csv := "Order ID,amount,paid at\n1,19.99,2026-11-01T09:15:00Z\n2,n/a,2026-11-01 10:02:33\n" +
		strings.Repeat("3,5.50,2026-11-02T08:00:00Z\n", 18)
	s, err := infer.ReadSample(strings.NewReader(csv), "orders.csv")
	if err != nil {
		panic(err)
	}
	r, err := infer.Infer(s)
	if err != nil {
		panic(err)
	}
	for _, f := range r.Fields {
		fmt.Printf("%s (from %q): %s, scale %d, layouts %q, %d misfits\n", f.Name, f.Column, f.Type, f.Scale, f.Layouts, f.Misfits)
	}
	fmt.Printf("partition by %s; %d of %d records kept\n", r.Partition, r.Counts.Kept, r.Counts.In)
	// Output:
	// order_id (from "Order ID"): int, scale 0, layouts [], 0 misfits
	// amount (from "amount"): decimal, scale 2, layouts [], 1 misfits
	// paid_at (from "paid at"): timestamp, scale 0, layouts ["2006-01-02T15:04:05.999999999Z07:00" "2006-01-02 15:04:05"], 0 misfits
	// partition by paid_at; 19 of 20 records kept
}
