package e2e

import (
	"context"
	"crypto/md5"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
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

	"github.com/sluice-etl/sluice/shared/adapter/windowstate/dynamostate"
	"github.com/sluice-etl/sluice/shared/core/window"
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

// clicksSent is what one test put on the stream and what must come of
// it: the reference aggregates, computed from the records sent.
type clicksSent struct {
	stream   string
	prefix   string // of the pages and event ids
	total    int
	kept     int
	rejected int
	filtered int
	late     int
	baseline int64 // records the shards had applied before
	ref      map[string]*refCell
	began    time.Time
	keptIDs  []string
	// keptCents sums the amounts of the kept records.
	keptCents int64
	// lake is set when the stream's spec has the iceberg sink: the rows
	// are read from the table, once every shard's held files are
	// committed.
	lake bool
}

// whereIs finds the staged objects that hold an event id (a diagnosis).
func (s *clicksSent) whereIs(t *testing.T, id string) string {
	ctx := context.Background()
	var where []string
	p := s3.NewListObjectsV2Paginator(s3c, &s3.ListObjectsV2Input{Bucket: aws.String(stack.Template.PhysicalName("StagingBucket")), Prefix: aws.String("runs/stream/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err.Error()
		}
		for _, o := range page.Contents {
			obj, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(stack.Template.PhysicalName("StagingBucket")), Key: o.Key})
			if err != nil {
				continue
			}
			b, _ := io.ReadAll(obj.Body)
			obj.Body.Close()
			if strings.Contains(string(b), `"`+id+`"`) {
				where = append(where, "staged "+aws.ToString(o.Key))
			}
		}
	}
	if len(where) == 0 {
		return "nowhere in staging"
	}
	return strings.Join(where, ", ")
}

// appliedIn sums the records every shard has applied.
func appliedIn(t *testing.T, stream string) int64 {
	in, _ := applied(t, stream)
	return in
}

// applied sums the records every shard has applied, and reports whether
// every committed output has been published: a batch commits, then
// publishes, and an invocation that stops in between leaves that to the
// next one.
func applied(t *testing.T, stream string) (int64, bool) {
	in, published, _ := appliedHeld(t, stream)
	return in, published
}

// appliedHeld is applied, and the number of data files the shards hold
// back from the table (an iceberg sink).
func appliedHeld(t *testing.T, stream string) (int64, bool, int) {
	t.Helper()
	ctx := context.Background()
	published := true
	st := dynamostate.New(ddb, stack.Template.PhysicalName("WindowStateTable"))
	shards, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatal(err)
	}
	var in int64
	held := 0
	for _, sh := range shards.Shards {
		snap, err := st.Load(ctx, stream+"/"+aws.ToString(sh.ShardId))
		if err != nil {
			t.Fatal(err)
		}
		in += snap.Counts.In
		held += window.HeldFiles(snap.Held)
		for _, m := range snap.Pending {
			if m.To == "" {
				continue
			}
			if _, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("sluice-output-bucket"), Key: aws.String(m.To)}); err != nil {
				published = false
			}
		}
	}
	return in, published, held
}

// clickDay is the day the next putClicks starts on: each call a day after
// the last, so every shard's watermark is behind it whatever the order of
// the tests.
var clickDay = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// putClicks puts n clicks from the next click day on, out of order within the 30s
// lateness, with bots (filtered), bad pages (rejected), three records far
// behind every watermark (late), one KPL aggregate of three clicks, and a
// flush record on each shard two hours after the last click, which
// closes every window.
func putClicks(t *testing.T, r *rand.Rand, prefix string, n int) *clicksSent {
	t.Helper()
	t0 := clickDay
	clickDay = clickDay.Add(24 * time.Hour)
	ctx := context.Background()
	s := &clicksSent{stream: stack.Template.PhysicalName("InputStream"), prefix: prefix, ref: map[string]*refCell{}}
	s.baseline = appliedIn(t, s.stream)
	add := func(at time.Time, page string, cents int) {
		key := fmt.Sprintf("%d|%s", at.Truncate(time.Minute).UnixMilli(), page)
		rc, ok := s.ref[key]
		if !ok {
			rc = &refCell{min: 1e18, max: -1e18}
			s.ref[key] = rc
		}
		rc.n++
		rc.sum += float64(cents)
		rc.min, rc.max = min(rc.min, float64(cents)), max(rc.max, float64(cents))
	}
	var entries []ktypes.PutRecordsRequestEntry
	entry := func(c click, pk string, hash *string) {
		data, _ := json.Marshal(c)
		entries = append(entries, ktypes.PutRecordsRequestEntry{Data: data, PartitionKey: aws.String(pk), ExplicitHashKey: hash})
		s.total++
	}
	clock := 0
	for i := range n {
		clock += r.IntN(3)
		at := t0.Add(time.Duration(clock-r.IntN(20)) * time.Second)
		c := click{EventID: fmt.Sprintf("%s-%05d", prefix, i), User: fmt.Sprintf("U%02d", r.IntN(40)), Page: fmt.Sprintf("%s/p%d", prefix, r.IntN(4)),
			At: at.Format(time.RFC3339), Cents: r.IntN(10_000)}
		switch {
		case i%97 == 5:
			c.User = "bot-3"
			s.filtered++
		case i%89 == 7:
			c.Page = "no-slash"
			s.rejected++
		default:
			s.kept++
			s.keptIDs = append(s.keptIDs, c.EventID)
			s.keptCents += int64(c.Cents)
			add(at, c.Page, c.Cents)
		}
		entry(c, c.User, nil)
	}
	for i := range 3 {
		entry(click{EventID: fmt.Sprintf("%s-late%d", prefix, i), User: "late", Page: prefix + "/p0", At: t0.Format(time.RFC3339), Cents: 1}, fmt.Sprintf("late-%d", i), nil)
		s.kept++
		s.keptCents++
		s.late++
	}
	agg := &records.AggregatedRecord{PartitionKeyTable: []string{"kpl"}}
	for i := range 3 {
		at := t0.Add(time.Duration(clock-5) * time.Second)
		c := click{EventID: fmt.Sprintf("%s-kpl%d", prefix, i), User: "kpl", Page: prefix + "/p1", At: at.Format(time.RFC3339), Cents: 100 * (i + 1)}
		data, _ := json.Marshal(c)
		idx := uint64(0)
		agg.Records = append(agg.Records, &records.Record{PartitionKeyIndex: &idx, Data: data})
		add(at, c.Page, c.Cents)
		s.total++
		s.kept++
		s.keptCents += int64(c.Cents)
	}
	body, _ := proto.Marshal(protoadapt.MessageV2Of(agg))
	sum := md5.Sum(body)
	entries = append(entries, ktypes.PutRecordsRequestEntry{Data: append(append([]byte{0xf3, 0x89, 0x9a, 0xc2}, body...), sum[:]...), PartitionKey: aws.String("kpl")})
	// The hash keys sit in each half of the key space (moto refuses the
	// very top of it).
	for i, hash := range []string{"0", "170141183460469231731687303715884105729"} {
		entry(click{EventID: fmt.Sprintf("%s-flush%d", prefix, i), User: "flush", Page: prefix + "/flush", At: t0.Add(time.Duration(clock)*time.Second + 2*time.Hour).Format(time.RFC3339)}, "flush", aws.String(hash))
		s.kept++
	}
	s.began = time.Now()
	for len(entries) > 0 {
		k := min(500, len(entries))
		out, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(s.stream), Records: entries[:k]})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToInt32(out.FailedRecordCount) != 0 {
			t.Fatalf("PutRecords: %d failed", aws.ToInt32(out.FailedRecordCount))
		}
		entries = entries[k:]
	}
	return s
}

// wait waits until the shards have applied every record sent.
func (s *clicksSent) wait(t *testing.T, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		in, published, held := appliedHeld(t, s.stream)
		if in -= s.baseline; in == int64(s.total) && published && held == 0 {
			t.Logf("%d records through the stream path in %s", s.total, time.Since(s.began).Round(time.Millisecond))
			return
		}
		if in == int64(s.total) && published && s.lake {
			// The shards are quiet now: the schedule's flush commits
			// their held files once due.
			flushTables(t, s.stream)
		}
		if in > int64(s.total) || time.Now().After(deadline) {
			t.Fatalf("%d of %d records applied; function logs:\n%s", in, s.total, tail(logs.String(), 4000))
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// check compares the closed windows with the reference, and the output,
// the late side output and the quarantine with what was sent.
func (s *clicksSent) check(t *testing.T) {
	t.Helper()
	st := dynamostate.New(ddb, stack.Template.PhysicalName("WindowStateTable"))
	cells, err := st.List(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range cells {
		if !strings.HasPrefix(c.Key, s.prefix+"/p") {
			continue
		}
		a := c.Fields["amount_cents"]
		got[fmt.Sprintf("%d|%s", c.Window.Start, c.Key)] = fmt.Sprintf("n=%d sum=%g min=%g max=%g", c.Count, a.Sum, a.Min, a.Max)
	}
	bad := 0
	for k, rc := range s.ref {
		if want := fmt.Sprintf("n=%d sum=%g min=%g max=%g", rc.n, rc.sum, rc.min, rc.max); got[k] != want {
			if bad++; bad < 10 {
				t.Errorf("window %s: %s, want %s", k, got[k], want)
			}
		}
	}
	if len(got) != len(s.ref) || bad > 0 {
		t.Fatalf("%d closed windows, want %d; %d differ", len(got), len(s.ref), bad)
	}
	if s.lake {
		s.checkTable(t)
	} else {
		s.checkParts(t)
	}
	s.checkSideOutputs(t)
}

// checkParts finds each kept record once in the published parts.
func (s *clicksSent) checkParts(t *testing.T) {
	t.Helper()
	ids := map[string]int{}
	for _, o := range listAll(t, "tables/clicks/hour=") {
		for _, l := range strings.Split(strings.TrimSpace(string(getObject(t, aws.ToString(o.Key)))), "\n") {
			var c click
			if err := json.Unmarshal([]byte(l), &c); err != nil {
				t.Fatalf("%s: %v", aws.ToString(o.Key), err)
			}
			if strings.HasPrefix(c.EventID, s.prefix+"-") {
				ids[c.EventID]++
			}
		}
	}
	dups := 0
	for _, n := range ids {
		dups += n - 1
	}
	if len(ids) != s.kept || dups != 0 {
		var missing []string
		for _, id := range s.keptIDs {
			if ids[id] == 0 && len(missing) < 5 {
				missing = append(missing, id+" ("+s.whereIs(t, id)+")")
			}
		}
		t.Fatalf("%d distinct rows out (%d repeated), want %d; missing %v", len(ids), dups, s.kept, missing)
	}
}

// checkSideOutputs counts the late side output and the quarantine.
func (s *clicksSent) checkSideOutputs(t *testing.T) {
	t.Helper()
	lateLines, rejLines := 0, 0
	for _, o := range listAll(t, "tables/clicks/late/") {
		lateLines += strings.Count(string(getObject(t, aws.ToString(o.Key))), `\"event_id\":\"`+s.prefix+"-")
	}
	for _, o := range listAll(t, "quarantine/clicks/") {
		body := string(getObject(t, aws.ToString(o.Key)))
		for _, l := range strings.Split(strings.TrimSpace(body), "\n") {
			if !strings.Contains(l, `\"event_id\":\"`+s.prefix+"-") {
				continue
			}
			rejLines++
			if !strings.Contains(l, `"sequence_number":"`) || !strings.Contains(l, `"shard":"`+s.stream+"/shardId-") {
				t.Fatalf("reject without its place: %s", l)
			}
		}
	}
	if lateLines != s.late || rejLines != s.rejected {
		t.Fatalf("late lines %d/%d, reject lines %d/%d", lateLines, s.late, rejLines, s.rejected)
	}
	t.Logf("%d windows match the reference; %d rows out once each, %d late, %d quarantined", len(s.ref), s.kept, lateLines, rejLines)
}

// TestStreamWindowsMatchAReference puts clicks on the two-shard input
// stream; the event source mapping delivers them to the real extract
// binary, which applies them exactly once. The closed windows in the
// window-state table must equal a reference computed here.
func TestStreamWindowsMatchAReference(t *testing.T) {
	needStack(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	s := putClicks(t, rand.New(rand.NewPCG(seed, 5)), "/clean", 1500)
	s.wait(t, 90*time.Second)
	s.check(t)
	// Nothing this test staged is left once published (a chaos test's
	// failed attempts may have left older ones for the lifecycle rule).
	left, err := s3c.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(stack.Template.PhysicalName("StagingBucket")), Prefix: aws.String("runs/stream/")})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range left.Contents {
		if o.LastModified.After(s.began.Add(-time.Second)) {
			t.Fatalf("staging after the stream: %s", aws.ToString(o.Key))
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
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
