package stream_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/pipeline/output"
	"github.com/sluice-etl/sluice/shared/pipeline/stream"
)

func contractPlan(t *testing.T, source string) *plan.Plan {
	t.Helper()
	p, err := plan.FromBytes("contract.yaml", []byte(`name: orders
source: {format: json, `+source+`}
fields:
  - {name: id, type: int, required: true}
  - {name: note}
  - {name: code, required: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func msg(i int, data string) stream.Message {
	return stream.Message{Shard: shard, Seq: seq(i), Data: []byte(data), Arrival: t0}
}

// The stream path holds each message to the contract as the batch path
// holds each record: an unknown key rejects under unknown_column, an
// absent key reads null (and a required one is rejected, saying why).
func TestStreamContractRejects(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	pl := e.pipeline(t, contractPlan(t, "unknown_columns: reject, missing_columns: null"))
	res, err := pl.Apply(ctx, shard, []stream.Message{
		msg(1, `{"id":1,"note":"a","code":"A"}`),
		msg(2, `{"id":2,"code":"B"}`),                 // note absent: null
		msg(3, `{"id":3,"code":"C","extra":1}`),       // unknown key
		msg(4, `{"id":4,"note":"d"}`),                 // code absent: required
		msg(5, `{"id":5,"code":"E","x":null,"y":[]}`), // two unknown keys
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"unknown_column": 2, "code.required": 1}
	if c := res.Counts; c.In != 5 || c.Out != 2 || c.Rejected != 3 || c.Filtered != 0 || !maps.Equal(c.RejectedByRule, want) {
		t.Fatalf("counts = %+v", c)
	}
	if err := res.Counts.Check(); err != nil {
		t.Fatal(err)
	}
	rej, err := output.ReadRejects(ctx, e.out, "out/orders/rejects/kinesis-clicks-shardId-000000000000-"+seq(1)+".jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rej {
		got = append(got, fmt.Sprintf("%s %d %s.%s: %s", r.Seq, r.Record, r.Field, r.Rule, r.Reason))
	}
	wantRej := []string{
		seq(3) + ` 3 .unknown_column: unknown column: key "extra" is not read by any field`,
		seq(4) + ` 4 code.required: value is missing: the input has no "code"`,
		seq(5) + ` 5 .unknown_column: unknown column: key "x" is not read by any field (nor is 1 other key)`,
	}
	if fmt.Sprint(got) != fmt.Sprint(wantRej) {
		t.Fatalf("rejects:\n got %q\nwant %q", got, wantRej)
	}
}

// Under fail, a message that breaks the contract fails its shard's batch
// with an error naming the message and the key; nothing of the batch is
// published or checkpointed, so its records are delivered again.
func TestStreamContractFails(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		source, err string
		is          error
	}{
		{"unknown_columns: fail", `stream ` + shard + `: sequence number ` + seq(2) + `: decode message: key "extra" is not read by any field (source.unknown_columns is fail)`, codec.ErrUnknownColumn},
		{"missing_columns: fail", `stream ` + shard + `: sequence number ` + seq(3) + `: decode message: key "note" is absent: field "note" reads it, and its missing policy is fail`, codec.ErrMissingColumn},
	} {
		t.Run(tc.source, func(t *testing.T) {
			e := newEnv()
			pl := e.pipeline(t, contractPlan(t, tc.source))
			_, err := pl.Apply(ctx, shard, []stream.Message{
				msg(1, `{"id":1,"note":"a","code":"A"}`),
				msg(2, `{"id":2,"note":"b","code":"B","extra":true}`),
				msg(3, `{"id":3,"code":"C"}`),
			})
			if err == nil || err.Error() != tc.err || !errors.Is(err, tc.is) {
				t.Fatalf("err = %v\nwant %s", err, tc.err)
			}
			snap, _ := e.store.Load(ctx, shard)
			if snap.LastSeq != "" || snap.Counts.In != 0 {
				t.Errorf("checkpoint moved: %+v", snap)
			}
			if objs, _ := e.out.List(ctx, ""); len(objs) != 0 {
				t.Errorf("published %v", objs)
			}
			if left, _ := e.staging.List(ctx, ""); len(left) != 0 {
				t.Errorf("staging not cleared: %v", left)
			}
		})
	}
}

// CSV messages have no header: csv.columns is held to the contract when
// the pipeline is made.
func TestStreamContractCSV(t *testing.T) {
	ctx := context.Background()
	spec := `name: temps
source: {format: csv, unknown_columns: %s, csv: {header: false, columns: [sensor, celsius, extra]}}
fields: [{name: sensor}, {name: celsius, type: float}]
`
	p, err := plan.FromBytes("csv.yaml", []byte(fmt.Sprintf(spec, "fail")))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv()
	_, err = stream.New(stream.Config{Plan: p, Staging: e.staging, Out: e.out, Store: e.store, Now: func() time.Time { return t0 }})
	if want := `stream: bad header: csv.columns: column "extra" is not read by any field (source.unknown_columns is fail)`; err == nil || err.Error() != want {
		t.Fatalf("New: %v\nwant %s", err, want)
	}
	p, err = plan.FromBytes("csv.yaml", []byte(fmt.Sprintf(spec, "reject")))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.pipeline(t, p).Apply(ctx, shard, []stream.Message{msg(1, "s1,10.5,"), msg(2, "s2,11,hot"), msg(3, "s3,12,")})
	if err != nil {
		t.Fatal(err)
	}
	if c := res.Counts; c.In != 3 || c.Out != 2 || !maps.Equal(c.RejectedByRule, map[string]int64{"unknown_column": 1}) {
		t.Fatalf("counts = %+v", c)
	}
}
