package stream_test

import (
	"errors"
	"testing"

	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/pipeline/stream"
)

// The stream path has no table commits yet: an iceberg sink is refused
// instead of publishing files no table names.
func TestIcebergSinkIsRefusedOnTheStreamPath(t *testing.T) {
	p, err := plan.FromBytes("t.yaml", []byte("name: kv\nsource: {format: json}\nfields: [{name: event_id, required: true}]\nsink: {format: iceberg}\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv()
	_, err = stream.New(stream.Config{Plan: p, Staging: e.staging, Out: e.out, StagingPrefix: "staging", OutPrefix: "out", Store: e.store})
	if !errors.Is(err, stream.ErrIcebergStream) {
		t.Errorf("New = %v, want ErrIcebergStream", err)
	}
}
