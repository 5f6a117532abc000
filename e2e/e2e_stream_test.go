package e2e

import (
	"context"
	"crypto/md5"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/awslabs/kinesis-aggregation/go/v2/records"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"

	"github.com/sluice-etl/sluice/shared/window"
	"github.com/sluice-etl/sluice/shared/window/dynamostate"
)

type click struct {
	EventID string `json:"event_id"`
	User    string `json:"user"`
	Page    string `json:"page"`
	At      string `json:"at"`
	Cents   int    `json:"amount_cents"`
}

// refCell is the test's own aggregate: computed here, from the clicks
// sent, with none of sluice's window code.
type refCell struct {
	n             int64
	sum, min, max float64
}

// TestStreamWindowsMatchAReference puts clicks on the two-shard input
// stream; the event source mapping delivers them to the real extract
// binary, which applies them exactly once. The closed windows in the
// window-state table must equal a reference computed here.
func TestStreamWindowsMatchAReference(t *testing.T) {
	needStack(t)
	ctx := context.Background()
	stream := stack.Template.PhysicalName("InputStream")
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 5))
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	ref := map[string]*refCell{}
	var sent, kept, rejected, filtered, late int
	var entries []ktypes.PutRecordsRequestEntry
	clock := 0
	for i := range 1500 {
		clock += r.IntN(3)
		sec := clock - r.IntN(20) // out of order, within the 30s lateness
		c := click{EventID: fmt.Sprintf("s%05d", i), User: fmt.Sprintf("U%02d", r.IntN(40)), Page: fmt.Sprintf("/p%d", r.IntN(4)),
			At: t0.Add(time.Duration(sec) * time.Second).Format(time.RFC3339), Cents: r.IntN(10_000)}
		switch {
		case i%97 == 5:
			c.User = "bot-3"
			filtered++
		case i%89 == 7:
			c.Page = "no-slash"
			rejected++
		default:
			kept++
			key := fmt.Sprintf("%d|%s", t0.Add(time.Duration(sec)*time.Second).Truncate(time.Minute).UnixMilli(), c.Page)
			rc, ok := ref[key]
			if !ok {
				rc = &refCell{min: 1e18, max: -1e18}
				ref[key] = rc
			}
			rc.n++
			rc.sum += float64(c.Cents)
			rc.min = min(rc.min, float64(c.Cents))
			rc.max = max(rc.max, float64(c.Cents))
		}
		data, _ := json.Marshal(c)
		entries = append(entries, ktypes.PutRecordsRequestEntry{Data: data, PartitionKey: aws.String(c.User)})
		sent++
	}
	// Records far behind every shard's watermark: counted as late and
	// written to the late/ side output, not aggregated.
	for i := range 3 {
		c := click{EventID: fmt.Sprintf("late%d", i), User: "late", Page: "/p0", At: t0.Format(time.RFC3339), Cents: 1}
		data, _ := json.Marshal(c)
		entries = append(entries, ktypes.PutRecordsRequestEntry{Data: data, PartitionKey: aws.String(fmt.Sprintf("late-%d", i))})
		sent++
		kept++
		late++
	}
	// One KPL aggregate of three clicks.
	agg := &records.AggregatedRecord{PartitionKeyTable: []string{"kpl"}}
	for i := range 3 {
		sec := clock - 5
		c := click{EventID: fmt.Sprintf("kpl%d", i), User: "kpl", Page: "/p1", At: t0.Add(time.Duration(sec) * time.Second).Format(time.RFC3339), Cents: 100 * (i + 1)}
		data, _ := json.Marshal(c)
		idx := uint64(0)
		agg.Records = append(agg.Records, &records.Record{PartitionKeyIndex: &idx, Data: data})
		key := fmt.Sprintf("%d|/p1", t0.Add(time.Duration(sec)*time.Second).Truncate(time.Minute).UnixMilli())
		rc, ok := ref[key]
		if !ok {
			rc = &refCell{min: 1e18, max: -1e18}
			ref[key] = rc
		}
		rc.n++
		rc.sum += float64(c.Cents)
		rc.min, rc.max = min(rc.min, float64(c.Cents)), max(rc.max, float64(c.Cents))
		sent++
		kept++
	}
	body, _ := proto.Marshal(protoadapt.MessageV2Of(agg))
	sum := md5.Sum(body)
	entries = append(entries, ktypes.PutRecordsRequestEntry{Data: append(append([]byte{0xf3, 0x89, 0x9a, 0xc2}, body...), sum[:]...), PartitionKey: aws.String("kpl")})
	// A flush record on each shard, an hour on, closes every window above.
	// (The hash keys sit in each half of the key space; moto refuses the
	// very top of it.)
	for i, hash := range []string{"0", "170141183460469231731687303715884105729"} {
		c := click{EventID: fmt.Sprintf("flush%d", i), User: "flush", Page: "/flush", At: t0.Add(2 * time.Hour).Format(time.RFC3339)}
		data, _ := json.Marshal(c)
		entries = append(entries, ktypes.PutRecordsRequestEntry{Data: data, PartitionKey: aws.String("flush"), ExplicitHashKey: aws.String(hash)})
		sent++
		kept++
	}
	began := time.Now()
	for len(entries) > 0 {
		n := min(500, len(entries))
		out, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries[:n]})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToInt32(out.FailedRecordCount) != 0 {
			t.Fatalf("PutRecords: %d failed", aws.ToInt32(out.FailedRecordCount))
		}
		entries = entries[n:]
	}

	// Wait until both shards have applied every record.
	st := dynamostate.New(ddb, stack.Template.PhysicalName("WindowStateTable"))
	shards, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil || len(shards.Shards) != 2 {
		t.Fatalf("shards: %v %v", shards, err)
	}
	var snaps []window.Snapshot
	deadline := time.Now().Add(90 * time.Second)
	for {
		snaps = snaps[:0]
		var in int64
		for _, sh := range shards.Shards {
			snap, err := st.Load(ctx, stream+"/"+aws.ToString(sh.ShardId))
			if err != nil {
				t.Fatal(err)
			}
			snaps = append(snaps, snap)
			in += snap.Counts.In
		}
		if in == int64(sent) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d records applied after 90s; function logs:\n%s", in, sent, tail(logs.String(), 4000))
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Logf("%d records through the stream path in %s", sent, time.Since(began).Round(time.Millisecond))

	var out, rej, filt, lateSeen int64
	for _, s := range snaps {
		if s.LastSeq == "" || len(s.Pending) == 0 {
			t.Fatalf("shard snapshot %+v", s)
		}
		out += s.Counts.Out
		rej += s.Counts.Rejected
		filt += s.Counts.Filtered
		lateSeen += s.Late
		if err := s.Counts.Check(); err != nil {
			t.Fatal(err)
		}
	}
	if out != int64(kept) || rej != int64(rejected) || filt != int64(filtered) || lateSeen != int64(late) {
		t.Fatalf("out %d/%d rejected %d/%d filtered %d/%d late %d/%d", out, kept, rej, rejected, filt, filtered, lateSeen, late)
	}

	cells, err := st.List(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range cells {
		a := c.Fields["amount_cents"]
		got[fmt.Sprintf("%d|%s", c.Window.Start, c.Key)] = fmt.Sprintf("n=%d sum=%g min=%g max=%g", c.Count, a.Sum, a.Min, a.Max)
	}
	want := map[string]string{}
	for k, rc := range ref {
		want[k] = fmt.Sprintf("n=%d sum=%g min=%g max=%g", rc.n, rc.sum, rc.min, rc.max)
	}
	if len(got) != len(want) {
		t.Fatalf("%d closed windows, want %d", len(got), len(want))
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("window %s: %s, want %s", k, got[k], w)
		}
	}

	// Every kept record landed in the output once; the late ones also in
	// late/, the rejects in rejects/ with their shard and sequence number.
	ids := map[string]int{}
	for _, o := range listAll(t, "tables/clicks/hour=") {
		for _, l := range strings.Split(strings.TrimSpace(string(getObject(t, aws.ToString(o.Key)))), "\n") {
			var c click
			if err := json.Unmarshal([]byte(l), &c); err != nil {
				t.Fatalf("%s: %v", aws.ToString(o.Key), err)
			}
			ids[c.EventID]++
		}
	}
	if len(ids) != kept {
		t.Fatalf("%d distinct rows out, want %d", len(ids), kept)
	}
	for id, n := range ids {
		if n != 1 {
			t.Fatalf("%s written %d times", id, n)
		}
	}
	var lateLines, rejLines int
	for _, o := range listAll(t, "tables/clicks/late/") {
		lateLines += strings.Count(string(getObject(t, aws.ToString(o.Key))), "\n")
	}
	for _, o := range listAll(t, "quarantine/clicks/") {
		body := string(getObject(t, aws.ToString(o.Key)))
		rejLines += strings.Count(body, "\n")
		if !strings.Contains(body, `"sequence_number":"`) || !strings.Contains(body, `"shard":"`+stream+"/shardId-") {
			t.Fatalf("reject without its place: %s", body)
		}
	}
	if lateLines != late || rejLines != rejected {
		t.Fatalf("late lines %d/%d, reject lines %d/%d", lateLines, late, rejLines, rejected)
	}
	// Nothing is left in staging once published.
	left, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(stack.Template.PhysicalName("StagingBucket")), Prefix: aws.String("runs/stream/")})
	if err != nil || len(left.Contents) != 0 {
		t.Fatalf("staging after the stream: %d objects, %v", len(left.Contents), err)
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	t.Logf("%d windows match the reference, e.g. %s: %s", len(want), keys[0], want[keys[0]])
}

func getObject(t *testing.T, key string) []byte {
	t.Helper()
	obj, err := s3c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("sluice-output-bucket"), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Body.Close()
	data, err := io.ReadAll(obj.Body)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
