package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/sluice-etl/sluice/shared/adapter/windowstate/dynamostate"
	"github.com/sluice-etl/sluice/shared/core/window"
)

// cmdWindows lists closed-window results (merged across shards) or the
// shards' checkpoints from the window-state table.
func cmdWindows(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := &windowsCmd{stdout: stdout, stderr: stderr}
	return exit(stderr, "sluice windows", c.run(ctx, args))
}

// windowsCmd is `sluice windows` and its flags.
type windowsCmd struct {
	stdout, stderr io.Writer

	table, endpoint, since, key string
	asJSON, shards              bool
}

func (c *windowsCmd) run(ctx context.Context, args []string) error {
	if err := c.parse(args); err != nil {
		return err
	}
	sinceMS, err := c.sinceMS(time.Now())
	if err != nil {
		return err
	}
	cfg, err := awsConfig(ctx, c.endpoint)
	if err != nil {
		return err
	}
	st := dynamostate.New(dynamodb.NewFromConfig(cfg), c.table)
	if c.shards {
		list, err := st.Shards(ctx)
		if err != nil {
			return err
		}
		return silent(printShards(list, c.asJSON, c.stdout))
	}
	cells, err := st.List(ctx, sinceMS)
	if err != nil {
		return err
	}
	return silent(printWindows(keyOnly(cells, c.key), c.asJSON, c.stdout))
}

func (c *windowsCmd) parse(args []string) error {
	fs := newFlagSet("windows", c.stderr)
	fs.StringVar(&c.table, "table", "", "window-state table (the stack's WindowStateTableName output)")
	fs.StringVar(&c.endpoint, "endpoint", "", "AWS endpoint (default: AWS_ENDPOINT_URL, else AWS)")
	fs.StringVar(&c.since, "since", "", "only windows ending at or after this time: RFC 3339, or a duration back from now (e.g. 1h)")
	fs.StringVar(&c.key, "key", "", "only this group key")
	fs.BoolVar(&c.asJSON, "json", false, "print JSON")
	fs.BoolVar(&c.shards, "shards", false, "list the shards' checkpoints and record counts instead")
	if err := fs.Parse(args); err != nil {
		return errFlags
	}
	if c.table == "" {
		return exitf(2, "sluice windows: --table is required\n")
	}
	return nil
}

// sinceMS is --since in Unix milliseconds (0 without it): an RFC 3339
// time, or a duration back from now.
func (c *windowsCmd) sinceMS(now time.Time) (int64, error) {
	if c.since == "" {
		return 0, nil
	}
	if d, err := time.ParseDuration(c.since); err == nil {
		return now.Add(-d).UnixMilli(), nil
	}
	if t, err := time.Parse(time.RFC3339, c.since); err == nil {
		return t.UnixMilli(), nil
	}
	return 0, exitf(2, "sluice windows: --since %q: want RFC 3339 or a duration\n", c.since)
}

// keyOnly keeps the cells of key; all of them when key is empty.
func keyOnly(cells []window.Cell, key string) []window.Cell {
	if key == "" {
		return cells
	}
	kept := cells[:0]
	for _, c := range cells {
		if c.Key == key {
			kept = append(kept, c)
		}
	}
	return kept
}

type aggJSON struct {
	Count int64   `json:"count"`
	Sum   float64 `json:"sum"`
	Min   float64 `json:"min"`
	Max   float64 `json:"max"`
	Avg   float64 `json:"avg"`
}

type windowJSON struct {
	Start  time.Time          `json:"window_start"`
	End    time.Time          `json:"window_end"`
	Key    string             `json:"key"`
	Count  int64              `json:"count"`
	Fields map[string]aggJSON `json:"fields"`
}

// cellJSON is a window's aggregates as `sluice windows --json` and
// the windows file write them. Count windows have no time bounds: their
// start is the window's number.
func cellJSON(c window.Cell) windowJSON {
	wj := windowJSON{Start: time.UnixMilli(c.Window.Start).UTC(), End: time.UnixMilli(c.Window.End).UTC(), Key: c.Key, Count: c.Count, Fields: map[string]aggJSON{}}
	for f, a := range c.Fields {
		avg := a.Avg()
		if math.IsNaN(avg) {
			avg = 0
		}
		wj.Fields[f] = aggJSON{a.Count, a.Sum, a.Min, a.Max, avg}
	}
	return wj
}

func printWindows(cells []window.Cell, asJSON bool, w io.Writer) error {
	if asJSON {
		out := make([]windowJSON, 0, len(cells))
		for _, c := range cells {
			out = append(out, cellJSON(c))
		}
		return writeJSON(w, out)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WINDOW START\tWINDOW END\tKEY\tCOUNT\tFIELD\tSUM\tMIN\tMAX\tAVG")
	for _, c := range cells {
		start, end := time.UnixMilli(c.Window.Start).UTC().Format(time.RFC3339), time.UnixMilli(c.Window.End).UTC().Format(time.RFC3339)
		fields := make([]string, 0, len(c.Fields))
		for f := range c.Fields {
			fields = append(fields, f)
		}
		sort.Strings(fields)
		if len(fields) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t\t\t\t\t\n", start, end, c.Key, c.Count)
		}
		for _, f := range fields {
			a := c.Fields[f]
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%g\t%g\t%g\t%.4g\n", start, end, c.Key, c.Count, f, a.Sum, a.Min, a.Max, a.Avg())
		}
	}
	return tw.Flush()
}

func printShards(list []dynamostate.ShardState, asJSON bool, w io.Writer) error {
	if asJSON {
		return writeJSON(w, list)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SHARD\tCHECKPOINT\tIN\tOUT\tREJECTED\tFILTERED\tLATE\tOPEN WINDOWS\tPENDING")
	for _, s := range list {
		c := s.Snapshot.Counts
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", s.Shard, s.Snapshot.LastSeq, c.In, c.Out, c.Rejected, c.Filtered, s.Snapshot.State.LateCount, len(s.Snapshot.State.Open), len(s.Snapshot.Pending))
	}
	return tw.Flush()
}
