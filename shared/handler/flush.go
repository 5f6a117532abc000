package handler

import (
	"context"
	"errors"
	"fmt"

	"github.com/sluice-etl/sluice/shared/core/codec"
)

// FlushTables is the payload of the schedule that commits quiet shards'
// held data files (an iceberg sink on the stream path): a shard's held
// files are otherwise committed only when its next batch comes.
type FlushTables struct {
	// Streams are the Kinesis streams whose shards to flush.
	Streams []string `json:"streams"`
}

// FlushRequest is the schedule's payload: {"flush_tables": {...}}.
type FlushRequest struct {
	FlushTables FlushTables `json:"flush_tables"`
}

// Flushed reports a flush: the shards looked at, and the data files
// committed and still held.
type Flushed struct {
	Shards    int `json:"shards"`
	Committed int `json:"committed"`
	Held      int `json:"held"`
}

// HandleFlush commits the held data files of every shard of the streams
// whose spec has an iceberg sink, where they are due. Streams of other
// sinks are passed over.
func (e *Extractor) HandleFlush(ctx context.Context, in FlushRequest) (*Flushed, error) {
	out := &Flushed{}
	var errs []error
	for _, name := range in.FlushTables.Streams {
		if err := e.flushStream(ctx, name, out); err != nil {
			errs = append(errs, fmt.Errorf("flush %s: %w", name, err))
		}
	}
	return out, errors.Join(errs...)
}

func (e *Extractor) flushStream(ctx context.Context, name string, out *Flushed) error {
	pl, err := e.pipeline(ctx, name)
	if err != nil {
		return err
	}
	if pl.Plan().Spec.Sink.Format != codec.SinkIceberg {
		return nil
	}
	if e.d.Shards == nil {
		return errors.New("this function has no Kinesis client to list the stream's shards")
	}
	shards, err := e.d.Shards(ctx, name)
	if err != nil {
		return err
	}
	for _, sh := range shards {
		res, err := pl.Flush(ctx, name+"/"+sh)
		if err != nil {
			return err
		}
		out.Shards++
		out.Committed += res.Committed
		out.Held += res.Held
	}
	e.d.Log.InfoContext(ctx, "flushed held table files", "stream", name, "shards", len(shards), "committed", out.Committed, "held", out.Held)
	return nil
}
