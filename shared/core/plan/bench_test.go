package plan_test

import (
	"bytes"
	"io"
	"strings"
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

// exprFields are the fields of exprRecord.
const exprFields = `version: 1
fields:
  - {name: order_id, type: int}
  - {name: email}
  - {name: amount, type: float}
  - {name: currency}
  - {name: country}
  - {name: product}
`

// exprSpec is the reference job with expressions that exercise the
// charged paths: strings built, split, a predicate, contains.
const exprSpec = exprFields + `derive:
  - {name: label, expr: 'upper(currency) + "-" + country'}
  - {name: words, expr: 'len(split(product, " "))'}
validate:
  - {name: widget, expr: 'any(split(product, " "), {# == "widget"})'}
filter: 'lower(email) contains "@" && amount > 0'
`

func exprRecord() *codec.RawRecord {
	return &codec.RawRecord{Fields: []codec.RawField{
		{Kind: codec.RawString, Bytes: []byte("10000001")}, {Kind: codec.RawString, Bytes: []byte("Frank.7573@Example.com")},
		{Kind: codec.RawString, Bytes: []byte("2063.98")}, {Kind: codec.RawString, Bytes: []byte("USD")},
		{Kind: codec.RawString, Bytes: []byte("DE")}, {Kind: codec.RawString, Bytes: []byte("standard widget - size large")},
	}}
}

// BenchmarkProcessExpressions measures a record whose derives, check and
// filter call builtins, build strings and run a predicate.
func BenchmarkProcessExpressions(b *testing.B) {
	benchProcess(b, exprSpec)
}

// BenchmarkProcessEnv is BenchmarkProcessExpressions reading the record
// through $env: by name, and as a whole.
func BenchmarkProcessEnv(b *testing.B) {
	src := strings.NewReplacer("upper(currency)", "upper($env.currency)", `filter: '`, `filter: 'len($env) == 8 && `).Replace(exprSpec)
	benchProcess(b, src)
}

func benchProcess(b *testing.B, src string) {
	p, err := plan.FromBytes("bench.yaml", []byte(src))
	if err != nil {
		b.Fatal(err)
	}
	rec := exprRecord()
	proc := p.NewProcessor()
	b.ReportAllocs()
	for b.Loop() {
		out, err := proc.Process(rec)
		if err != nil || out.Verdict != plan.Keep {
			b.Fatal(err, out.Rule, out.Reason)
		}
	}
}

// BenchmarkNewProcessor measures a processor's start: each compiles the
// plan's expressions against its own budget.
func BenchmarkNewProcessor(b *testing.B) {
	p, err := plan.FromBytes("bench.yaml", []byte(exprSpec))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		p.NewProcessor()
	}
}

// checksSpec has the checks, filters and boolean derived field of the
// orders example's kind, all in the lowered case.
const checksSpec = exprFields + `derive:
  - {name: large, expr: 'amount >= 500', type: bool}
validate:
  - {name: positive, expr: 'currency != "XXX" || amount > 0'}
  - {name: known, expr: 'country in ["DE", "FR", "US", "GB"]'}
filter:
  - {name: not_test, expr: '!(email startsWith "test-") && order_id > 0'}
`

// BenchmarkProcessChecks measures a record through checks, filters and a
// boolean derived field: lowered, and by the VM alone.
func BenchmarkProcessChecks(b *testing.B) {
	for _, vmOnly := range []bool{false, true} {
		b.Run(map[bool]string{false: "lowered", true: "vm"}[vmOnly], func(b *testing.B) {
			p, err := plan.FromBytes("bench.yaml", []byte(checksSpec))
			if err != nil {
				b.Fatal(err)
			}
			rec := exprRecord()
			proc := p.NewProcessor()
			if vmOnly {
				plan.VMOnly(proc)
			}
			b.ReportAllocs()
			for b.Loop() {
				out, err := proc.Process(rec)
				if err != nil || out.Verdict != plan.Keep {
					b.Fatal(err, out.Rule, out.Reason)
				}
			}
		})
	}
}
