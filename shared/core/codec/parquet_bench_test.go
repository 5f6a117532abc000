package codec_test

import (
	"fmt"
	"testing"

	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/record"
)

// refSchema is the reference job's output: the bench spec's fields and
// its derived amount_cents.
var refSchema = &record.Schema{Fields: []record.Field{
	{Name: "order_id", Kind: record.Int}, {Name: "customer_id", Kind: record.Int},
	{Name: "email", Kind: record.String}, {Name: "amount", Kind: record.Float},
	{Name: "currency", Kind: record.String}, {Name: "status", Kind: record.String},
	{Name: "country", Kind: record.String}, {Name: "created_at", Kind: record.String},
	{Name: "product", Kind: record.String}, {Name: "amount_cents", Kind: record.Int},
}}

// refRows are n rows shaped like the reference job's output.
func refRows(n int) [][]record.Value {
	currencies := []string{"USD", "EUR", "GBP"}
	statuses := []string{"paid", "pending", "refunded", "cancelled"}
	countries := []string{"US", "DE", "FR", "GB", "NL", "ES"}
	rows := make([][]record.Value, n)
	for i := range rows {
		amount := float64(i%100000) / 100
		rows[i] = []record.Value{
			record.IntValue(int64(i + 1)), record.IntValue(int64(i%50000 + 1)),
			record.StringValue(fmt.Appendf(nil, "user%d@example.com", i%50000)), record.FloatValue(amount),
			record.StringValue([]byte(currencies[i%3])), record.StringValue([]byte(statuses[i%4])),
			record.StringValue([]byte(countries[i%6])), record.StringValue(fmt.Appendf(nil, "2026-11-%02dT%02d:%02d:00Z", i%28+1, i%24, i%60)),
			record.StringValue(fmt.Appendf(nil, "product-%d", i%500)), record.IntValue(int64(i % 100000)),
		}
	}
	return rows
}

// BenchmarkParquetEncode encodes the reference job's output rows;
// bytes/s counts the JSON Lines size of the same rows, so the figure
// compares with the other sinks.
func BenchmarkParquetEncode(b *testing.B) {
	for _, comp := range []codec.Compression{codec.Zstd, codec.Snappy} {
		b.Run(string(comp), func(b *testing.B) { benchEncode(b, codec.SinkParquet, comp) })
	}
}

// BenchmarkJSONLEncode encodes the same rows as JSON Lines.
func BenchmarkJSONLEncode(b *testing.B) { benchEncode(b, codec.SinkJSONL, "") }

func benchEncode(b *testing.B, f codec.SinkFormat, comp codec.Compression) {
	rows := refRows(200000)
	var size countWriter
	e, _ := codec.NewEncoder(&size, codec.SinkJSONL, refSchema, codec.EncoderOptions{})
	for _, r := range rows {
		e.Encode(r)
	}
	e.Close()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	var out countWriter
	for b.Loop() {
		out = 0
		e, err := codec.NewEncoder(&out, f, refSchema, codec.EncoderOptions{ParquetCompression: comp})
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range rows {
			if err := e.Encode(r); err != nil {
				b.Fatal(err)
			}
		}
		if err := e.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(out), "out-bytes")
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }
