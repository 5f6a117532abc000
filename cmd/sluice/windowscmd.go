package main

import (
	"context"
	"encoding/json"
	"flag"
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
	fs := flag.NewFlagSet("windows", flag.ContinueOnError)
	fs.SetOutput(stderr)
	table := fs.String("table", "", "window-state table (the stack's WindowStateTableName output)")
	endpoint := fs.String("endpoint", "", "AWS endpoint (default: AWS_ENDPOINT_URL, else AWS)")
	since := fs.String("since", "", "only windows ending at or after this time: RFC 3339, or a duration back from now (e.g. 1h)")
	key := fs.String("key", "", "only this group key")
	asJSON := fs.Bool("json", false, "print JSON")
	shards := fs.Bool("shards", false, "list the shards' checkpoints and record counts instead")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *table == "" {
		fmt.Fprintln(stderr, "sluice windows: --table is required")
		return 2
	}
	var sinceMS int64
	if *since != "" {
		if d, err := time.ParseDuration(*since); err == nil {
			sinceMS = time.Now().Add(-d).UnixMilli()
		} else if t, err := time.Parse(time.RFC3339, *since); err == nil {
			sinceMS = t.UnixMilli()
		} else {
			fmt.Fprintf(stderr, "sluice windows: --since %q: want RFC 3339 or a duration\n", *since)
			return 2
		}
	}
	cfg, err := awsConfig(ctx, *endpoint)
	if err != nil {
		fmt.Fprintf(stderr, "sluice windows: %v\n", err)
		return 1
	}
	st := dynamostate.New(dynamodb.NewFromConfig(cfg), *table)
	if *shards {
		list, err := st.Shards(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "sluice windows: %v\n", err)
			return 1
		}
		return printShards(list, *asJSON, stdout)
	}
	cells, err := st.List(ctx, sinceMS)
	if err != nil {
		fmt.Fprintf(stderr, "sluice windows: %v\n", err)
		return 1
	}
	if *key != "" {
		kept := cells[:0]
		for _, c := range cells {
			if c.Key == *key {
				kept = append(kept, c)
			}
		}
		cells = kept
	}
	return printWindows(cells, *asJSON, stdout)
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

func printWindows(cells []window.Cell, asJSON bool, w io.Writer) int {
	if asJSON {
		out := make([]windowJSON, 0, len(cells))
		for _, c := range cells {
			out = append(out, cellJSON(c))
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return 1
		}
		return 0
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
	if err := tw.Flush(); err != nil {
		return 1
	}
	return 0
}

func printShards(list []dynamostate.ShardState, asJSON bool, w io.Writer) int {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(list); err != nil {
			return 1
		}
		return 0
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SHARD\tCHECKPOINT\tIN\tOUT\tREJECTED\tFILTERED\tLATE\tOPEN WINDOWS\tPENDING")
	for _, s := range list {
		c := s.Snapshot.Counts
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", s.Shard, s.Snapshot.LastSeq, c.In, c.Out, c.Rejected, c.Filtered, s.Snapshot.State.LateCount, len(s.Snapshot.State.Open), len(s.Snapshot.Pending))
	}
	if err := tw.Flush(); err != nil {
		return 1
	}
	return 0
}
