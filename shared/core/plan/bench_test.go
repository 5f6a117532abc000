package plan_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/plan"
)

// benchSpecPath is the reference job's spec, shared with `make bench`.
const benchSpecPath = "../../../bench/spec.yaml"

const benchRow = "10000001,611688,Frank.7573@Example.com,2063.98,USD,paid,DE,2026-04-13T08:37:06Z,standard widget - size large\n"

// BenchmarkProcess measures the transform plan alone on the reference
// job's record shape: decode is done once, outside the loop.
func BenchmarkProcess(b *testing.B) {
	p, err := plan.FromFile(benchSpecPath)
	if err != nil {
		b.Fatal(err)
	}
	dec, err := codec.NewCSVDecoder(bytes.NewReader([]byte("order_id,user_id,email,amount,currency,status,country,created_at,product\n"+benchRow)), p.Columns, codec.CSVOptions{Header: true}, codec.Range{})
	if err != nil {
		b.Fatal(err)
	}
	rec, err := dec.Next()
	if err != nil {
		b.Fatal(err)
	}
	proc := p.NewProcessor()
	b.SetBytes(int64(len(benchRow)))
	b.ReportAllocs()
	for b.Loop() {
		out, err := proc.Process(rec)
		if err != nil || out.Verdict != plan.Keep {
			b.Fatal(err, out.Reason)
		}
	}
}

// BenchmarkDecodeProcessEncode is the whole per-record path with no I/O.
func BenchmarkDecodeProcessEncode(b *testing.B) {
	p, err := plan.FromFile(benchSpecPath)
	if err != nil {
		b.Fatal(err)
	}
	data := []byte("order_id,user_id,email,amount,currency,status,country,created_at,product\n" + string(bytes.Repeat([]byte(benchRow), 10000)))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		dec, err := codec.NewCSVDecoder(bytes.NewReader(data), p.Columns, codec.CSVOptions{Header: true}, codec.Range{})
		if err != nil {
			b.Fatal(err)
		}
		enc, _ := codec.NewEncoder(io.Discard, codec.SinkJSONL, &p.Out, codec.EncoderOptions{})
		proc := p.NewProcessor()
		for {
			rec, err := dec.Next()
			if err == io.EOF {
				break
			}
			out, _ := proc.Process(rec)
			if err := enc.Encode(out.Row); err != nil {
				b.Fatal(err)
			}
		}
		enc.Close()
	}
}
