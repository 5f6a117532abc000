package icebergtable

import (
	"context"
	"fmt"
	"strconv"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/sluice-etl/sluice/shared/core/accounting"
	"github.com/sluice-etl/sluice/shared/core/window"
	"github.com/sluice-etl/sluice/shared/pipeline/stream"
)

// Snapshot summary properties of the stream path's commits: the shard,
// and the first and last sequence numbers of the records the snapshot
// covers.
const (
	PropStreamShard = "sluice.stream-shard"
	PropStreamFirst = "sluice.stream-first-seq"
	PropStreamLast  = "sluice.stream-last-seq"
)

var _ stream.Lake = (*Table)(nil)

// CommitStream commits a shard's held batches in one append snapshot,
// leaving out the batches the table holds already: those at or below the
// last sequence number of the shard's latest snapshot. It returns the
// number of data files it added.
func (t *Table) CommitStream(ctx context.Context, c *stream.Commit) (int, error) {
	var added int
	err := t.retry(ctx, "commit of shard "+c.Shard, func() error {
		n, err := t.commitStreamOnce(ctx, c)
		added = n
		return err
	})
	return added, err
}

func (t *Table) commitStreamOnce(ctx context.Context, c *stream.Commit) (int, error) {
	tbl, err := t.cat.LoadTable(ctx, t.ident)
	if err != nil {
		return 0, fmt.Errorf("table %s: %w", t.name, err)
	}
	done := ShardCommitted(tbl.Metadata().Snapshots(), c.Shard)
	todo := c.Batches
	for len(todo) > 0 && !window.After(done, todo[0].Last) {
		todo = todo[1:]
	}
	if len(todo) == 0 {
		return 0, nil
	}
	var add, keys []string
	for _, b := range todo {
		for _, f := range b.Files {
			add, keys = append(add, t.cat.URL(f.Key)), append(keys, f.Key)
		}
	}
	if err := t.checkFieldIDs(ctx, tbl, keys); err != nil {
		return 0, err
	}
	txn := tbl.NewTransaction()
	if err := txn.AddFiles(ctx, add, streamSummary(c, todo), false); err != nil {
		return 0, fmt.Errorf("table %s: stage the commit of shard %s: %w", t.name, c.Shard, err)
	}
	if _, err := txn.Commit(ctx); err != nil {
		return 0, fmt.Errorf("table %s: commit shard %s: %w", t.name, c.Shard, err)
	}
	return len(add), nil
}

// ShardCommitted is the last sequence number of shard that the table's
// snapshots hold ("" for none).
func ShardCommitted(snaps []table.Snapshot, shard string) string {
	last := ""
	for _, s := range snaps {
		p := s.Summary
		if p == nil || p.Properties[PropStreamShard] != shard {
			continue
		}
		if seq := p.Properties[PropStreamLast]; window.After(last, seq) {
			last = seq
		}
	}
	return last
}

// streamSummary names the shard, the range and the counts of batches.
func streamSummary(c *stream.Commit, batches []window.HeldBatch) iceberg.Properties {
	var n accounting.Counts
	for _, b := range batches {
		n.Merge(b.Counts)
	}
	first, last := batches[0].First, batches[len(batches)-1].Last
	itoa := func(n int64) string { return strconv.FormatInt(n, 10) }
	return iceberg.Properties{
		PropRunID:       "stream/" + c.Shard + "/" + last,
		PropSourceKey:   c.Shard,
		PropStreamShard: c.Shard,
		PropStreamFirst: first,
		PropStreamLast:  last,
		PropSpecHash:    c.SpecHash,
		PropRecordsIn:   itoa(n.In),
		PropRecordsOut:  itoa(n.Out),
		PropRejected:    itoa(n.Rejected),
		PropFiltered:    itoa(n.Filtered),
	}
}
