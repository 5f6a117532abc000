package profile_test

import (
	"fmt"
	"testing"

	"github.com/sluice-etl/sluice/shared/core/profile"
	"github.com/sluice-etl/sluice/shared/core/record"
)

// BenchmarkObserve profiles rows shaped like the reference job's output
// (BENCHMARKS.md): ten columns, two of them unique per row.
func BenchmarkObserve(b *testing.B) {
	sch := &record.Schema{Fields: []record.Field{
		{Name: "order_id", Kind: record.Int}, {Name: "customer_id", Kind: record.Int},
		{Name: "email", Kind: record.String}, {Name: "amount", Kind: record.Float},
		{Name: "currency", Kind: record.String}, {Name: "status", Kind: record.String},
		{Name: "country", Kind: record.String}, {Name: "created_at", Kind: record.String},
		{Name: "product", Kind: record.String}, {Name: "amount_cents", Kind: record.Int},
	}}
	const n = 1 << 16
	emails := make([][]byte, n)
	for i := range emails {
		emails[i] = fmt.Appendf(nil, "user.%d@example.com", i*7919%10000)
	}
	for _, values := range []bool{false, true} {
		b.Run(fmt.Sprint("values=", values), func(b *testing.B) {
			p := profile.New(sch, profile.Options{Values: values})
			row := []record.Value{{}, {}, {}, {}, str("USD"), str("paid"), str("US"), str("2026-03-04T10:11:12Z"), str("standard widget - size large"), {}}
			i := 0
			for b.Loop() {
				row[0] = record.IntValue(int64(10_000_000 + i))
				row[1] = record.IntValue(int64(100_000 + i*31%900_000))
				row[2] = record.StringValue(emails[i%n])
				row[3] = record.FloatValue(float64(i%5000) + 0.25)
				row[9] = record.IntValue(int64(i % 500000))
				p.Observe(row)
				i++
			}
		})
	}
}
