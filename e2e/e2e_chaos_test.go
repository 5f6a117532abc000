package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/klauspost/compress/zstd"

	"github.com/sluice-etl/sluice/internal/offline"
)

var (
	chaosFull   = flag.Bool("chaos.full", false, "every fault class with 20 uploads each, then all at once (make chaos)")
	chaosReport = flag.String("chaos.report", "", "append each round's figures as JSON lines to this file")
	chaosSeed   = flag.Uint64("chaos.seed", 0, "seed of the fault plans (0: from the clock)")
)

// chaosFields are the fields both chaos specs read.
const chaosFields = `source: {format: auto, compression: auto}
fields:
  - {name: id, type: int, required: true}
  - {name: name, clean: [trim]}
  - {name: amount, type: decimal, scale: 2, required: true, rules: {min: 0}}
  - {name: day, type: date, required: true}
`

const chaosSpec = "name: chaos\n" + chaosFields + `sink:
  format: jsonl
  partition_by: [{key: day, field: day}]
`

const chaosKVSpec = "name: chaoskv\n" + chaosFields + `  - {name: source, required: true}
sink: {format: dynamodb, table: sluice-chaos-kv, key: [id]}
`

// The spec routes the test's stack adds (see TestMain).
const chaosRoutes = `"incoming/chaos/":"s3://sluice-input-bucket/specs/chaos.yaml","incoming/chaoskv/":"s3://sluice-input-bucket/specs/chaoskv.yaml"`

func seedOf(t *testing.T) uint64 {
	s := *chaosSeed
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	t.Logf("chaos seed %d (rerun with -args -chaos.seed=%d)", s, s)
	return s
}

func postChaos(t *testing.T, method string, plan *offline.Chaos) offline.ChaosState {
	t.Helper()
	var body io.Reader
	if plan != nil {
		b, _ := json.Marshal(plan)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, stack.Endpoint+"/_sluice/chaos", body)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st offline.ChaosState
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&st) != nil {
		t.Fatalf("chaos %s: %d", method, resp.StatusCode)
	}
	return st
}

// chaosUpload is one object and what must come of it.
type chaosUpload struct {
	key      string
	body     []byte
	rows     int
	kept     map[int64]string // id -> amount text
	rejected int
	kv       bool
}

// makeUploads builds n objects of mixed formats and sizes: CSV, gzip CSV,
// JSON Lines, zstd JSON Lines and a JSON array, every fifth one for the
// DynamoDB sink. About 3% of rows are bad (a negative amount, no id).
func makeUploads(t *testing.T, r *rand.Rand, round string, n int) []chaosUpload {
	t.Helper()
	exts := []string{"csv", "csv.gz", "jsonl", "jsonl.zst", "json"}
	var out []chaosUpload
	for i := range n {
		u := chaosUpload{kept: map[int64]string{}}
		ext := exts[i%len(exts)]
		u.kv = i%5 == 4
		prefix := "incoming/chaos/"
		if u.kv {
			prefix, ext = "incoming/chaoskv/", "csv"
		}
		u.key = fmt.Sprintf("%s%s/f%02d.%s", prefix, round, i, ext)
		u.rows = 20 + r.IntN(1500)
		if r.IntN(4) == 0 {
			u.rows += 3000 // a few larger objects: several chunks
		}
		var plain bytes.Buffer
		jsonRows := []string{}
		if strings.HasPrefix(ext, "csv") {
			plain.WriteString("id,name,amount,day\n")
		}
		for j := range u.rows {
			id := int64(j)
			idText := strconv.FormatInt(id, 10)
			amount := fmt.Sprintf("%d.%02d", r.IntN(10000), r.IntN(100))
			switch {
			case r.IntN(40) == 0:
				amount = "-" + amount
				u.rejected++
			case r.IntN(60) == 0:
				idText = ""
				u.rejected++
			default:
				u.kept[id] = amount
			}
			day := time.Date(2026, 11, 1+j%20, 0, 0, 0, 0, time.UTC).Format("2006-01-02")
			name := fmt.Sprintf(" item %d ", r.IntN(1000))
			switch {
			case strings.HasPrefix(ext, "csv"):
				fmt.Fprintf(&plain, "%s,%s,%s,%s\n", idText, name, amount, day)
			default:
				idJSON := idText
				if idJSON == "" {
					idJSON = "null"
				}
				line := fmt.Sprintf(`{"id":%s,"name":%q,"amount":%q,"day":%q}`, idJSON, name, amount, day)
				if ext == "json" {
					jsonRows = append(jsonRows, line)
				} else {
					plain.WriteString(line + "\n")
				}
			}
		}
		if ext == "json" {
			plain.WriteString("[" + strings.Join(jsonRows, ",\n") + "]\n")
		}
		switch {
		case strings.HasSuffix(ext, ".gz"):
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			zw.Write(plain.Bytes())
			zw.Close()
			u.body = b.Bytes()
		case strings.HasSuffix(ext, ".zst"):
			zw, _ := zstd.NewWriter(nil)
			u.body = zw.EncodeAll(plain.Bytes(), nil)
		default:
			u.body = plain.Bytes()
		}
		out = append(out, u)
	}
	return out
}

// roundFigures are one round's results, for RELIABILITY.md.
type roundFigures struct {
	Round      string           `json:"round"`
	Plan       *offline.Chaos   `json:"plan,omitempty"`
	Uploads    int              `json:"uploads"`
	Sent       int              `json:"records_sent"`
	Verified   int              `json:"records_verified"`
	Duplicates int              `json:"duplicates"`
	Lost       int              `json:"lost"`
	Executions int              `json:"executions"`
	Failed     int              `json:"failed_then_retried"`
	Seconds    float64          `json:"seconds"`
	Injected   map[string]int64 `json:"injected"`
}

func report(t *testing.T, f roundFigures) {
	t.Logf("%s: %d uploads, %d records sent, %d verified, %d duplicates, %d lost, %d executions (%d failed, retried), %.1fs, faults %v",
		f.Round, f.Uploads, f.Sent, f.Verified, f.Duplicates, f.Lost, f.Executions, f.Failed, f.Seconds, f.Injected)
	if *chaosReport == "" {
		return
	}
	fh, err := os.OpenFile(*chaosReport, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	b, _ := json.Marshal(f)
	fh.Write(append(b, '\n'))
}

// runRound uploads, waits for every execution to end, retries the failed
// ones without faults, and checks every row against what was sent.
func runRound(t *testing.T, name string, plan *offline.Chaos, uploads []chaosUpload, mustSucceed bool) roundFigures {
	t.Helper()
	ctx := context.Background()
	fig := roundFigures{Round: name, Plan: plan, Uploads: len(uploads)}
	if plan != nil {
		postChaos(t, http.MethodPost, plan)
		t.Cleanup(func() { postChaos(t, http.MethodDelete, nil) })
	}
	before := seen(t)
	began := time.Now()
	var wg sync.WaitGroup
	for _, u := range uploads {
		fig.Sent += u.rows
		wg.Add(1)
		go func() {
			defer wg.Done()
			put(t, u.key, u.body)
		}()
	}
	wg.Wait()
	execs := finishedWithin(t, before, len(uploads), 6*time.Minute)
	fig.Seconds = time.Since(began).Seconds()
	if plan != nil {
		fig.Injected = postChaos(t, http.MethodGet, nil).Injected
		postChaos(t, http.MethodDelete, nil)
	}
	fig.Executions = len(execs)
	for _, e := range execs {
		if e.Status == sfntypes.ExecutionStatusSucceeded {
			continue
		}
		desc, err := sfnc.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: e.ExecutionArn})
		if err != nil {
			t.Fatal(err)
		}
		if mustSucceed {
			t.Errorf("execution %s %s: %s %s", aws.ToString(e.Name), e.Status, aws.ToString(desc.Error), tail(aws.ToString(desc.Cause), 300))
			continue
		}
		// A recorded failure: the run's metrics item says failed. The
		// same input again, without faults, completes it.
		fig.Failed++
		t.Logf("%s failed because: %s", aws.ToString(e.Name), failureCause(t, e.ExecutionArn))
		b4 := seen(t)
		if _, err := sfnc.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(smArn),
			Name: aws.String(aws.ToString(e.Name) + "-retry"), Input: desc.Input}); err != nil {
			t.Fatal(err)
		}
		again := finishedWithin(t, b4, 1, 3*time.Minute)
		rd, _ := sfnc.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: again[0].ExecutionArn})
		t.Logf("%s failed (%s: %s); its retry ended %s: %s", aws.ToString(e.Name), aws.ToString(desc.Error), tail(aws.ToString(desc.Cause), 200),
			again[0].Status, tail(aws.ToString(rd.Output), 300))
		if again[0].Status != sfntypes.ExecutionStatusSucceeded {
			t.Fatalf("the retry of %s ended %s", aws.ToString(e.Name), again[0].Status)
		}
	}
	verifyUploads(t, uploads, &fig)
	report(t, fig)
	if fig.Lost != 0 || fig.Duplicates != 0 || fig.Verified != fig.Sent {
		t.Fatalf("%s: %d lost, %d duplicates, %d of %d verified", name, fig.Lost, fig.Duplicates, fig.Verified, fig.Sent)
	}
	return fig
}

// finishedWithin is finished with a longer deadline.
func finishedWithin(t testing.TB, before map[string]bool, n int, limit time.Duration) []sfntypes.ExecutionListItem {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		var mine []sfntypes.ExecutionListItem
		running := 0
		p := sfn.NewListExecutionsPaginator(sfnc, &sfn.ListExecutionsInput{StateMachineArn: aws.String(smArn)})
		for p.HasMorePages() {
			page, err := p.NextPage(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page.Executions {
				if !before[aws.ToString(e.ExecutionArn)] {
					mine = append(mine, e)
					if e.Status == sfntypes.ExecutionStatusRunning {
						running++
					}
				}
			}
		}
		if len(mine) >= n && running == 0 {
			return mine
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d executions, %d running, after %s; logs:\n%s", len(mine), running, limit, tail(logs.String(), 6000))
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// verifyUploads checks each upload's manifest, its rows in the output
// (or the DynamoDB sink table) and its metrics item.
func verifyUploads(t *testing.T, uploads []chaosUpload, fig *roundFigures) {
	t.Helper()
	ctx := context.Background()
	manifests := map[string]map[string]any{}
	for _, o := range listAll(t, "tables/") {
		k := aws.ToString(o.Key)
		if !strings.HasSuffix(k, "/_manifest.json") || !strings.Contains(k, "/chaos") {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(getObject(t, k), &m); err != nil {
			t.Fatal(err)
		}
		if src, _ := m["source"].(map[string]any); src != nil {
			manifests[fmt.Sprint(src["key"])] = m
		}
	}
	kv := kvItems(t)
	for _, u := range uploads {
		m := manifests[u.key]
		if m == nil {
			t.Errorf("%s: no manifest", u.key)
			fig.Lost += len(u.kept)
			continue
		}
		want := fmt.Sprintf("%d/%d/%d/0 succeeded", u.rows, len(u.kept), u.rejected)
		if got := counts(m); !strings.HasPrefix(got, want) {
			t.Errorf("%s: manifest %s, want %s", u.key, got, want)
		}
		runID := fmt.Sprint(m["run_id"])
		var seenIDs map[int64]int
		if u.kv {
			seenIDs = map[int64]int{}
			for id, amount := range u.kept {
				if got, ok := kv[kvKey(u.key, id)]; ok {
					seenIDs[id] = 1
					if got != amount {
						t.Errorf("%s id %d: amount %s in the table, sent %s", u.key, id, got, amount)
					}
				}
			}
		} else {
			seenIDs = outputIDs(t, runID)
		}
		for id, n := range seenIDs {
			if _, ok := u.kept[id]; !ok {
				t.Errorf("%s: id %d written but never sent as good", u.key, id)
			}
			if n > 1 {
				fig.Duplicates += n - 1
			}
		}
		for id := range u.kept {
			if seenIDs[id] == 0 {
				fig.Lost++
			}
		}
		fig.Verified += len(seenIDs) + u.rejected
		item, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("sluice-metrics-table"),
			Key: map[string]ddbtypes.AttributeValue{"run_id": &ddbtypes.AttributeValueMemberS{Value: runID}}})
		if err != nil {
			t.Fatal(err)
		}
		out, _ := item.Item["records_out"].(*ddbtypes.AttributeValueMemberN)
		status, _ := item.Item["status"].(*ddbtypes.AttributeValueMemberS)
		if out == nil || status == nil || out.Value != strconv.Itoa(len(u.kept)) || status.Value != "succeeded" {
			t.Errorf("%s: metrics item %v disagrees with the output (%d rows)", u.key, item.Item, len(u.kept))
		}
	}
}

// outputIDs counts each id in a run's output parts.
func outputIDs(t *testing.T, runID string) map[int64]int {
	t.Helper()
	ids := map[int64]int{}
	for _, o := range listAll(t, "tables/chaos/") {
		k := aws.ToString(o.Key)
		if !strings.Contains(k, "/part-"+runID[:8]+"-") {
			continue
		}
		for _, l := range strings.Split(strings.TrimSpace(string(getObject(t, k))), "\n") {
			var row struct {
				ID int64 `json:"id"`
			}
			if err := json.Unmarshal([]byte(l), &row); err != nil {
				t.Fatalf("%s: %v", k, err)
			}
			ids[row.ID]++
		}
	}
	return ids
}

// kvKey names a row of a kv upload: its source key and its row id.
func kvKey(key string, id int64) string { return key + "#" + strconv.FormatInt(id, 10) }

func kvItems(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	p := dynamodb.NewScanPaginator(ddb, &dynamodb.ScanInput{TableName: aws.String("sluice-chaos-kv")})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			id, _ := it["id"].(*ddbtypes.AttributeValueMemberN)
			src, _ := it["source"].(*ddbtypes.AttributeValueMemberS)
			amount, _ := it["amount"].(*ddbtypes.AttributeValueMemberN)
			if id != nil && src != nil && amount != nil {
				n, _ := strconv.ParseInt(id.Value, 10, 64)
				out[kvKey(src.Value, n%1_000_000)] = amount.Value
			}
		}
	}
	return out
}

func chaosSetup(t *testing.T) {
	t.Helper()
	put(t, "specs/chaos.yaml", []byte(chaosSpec))
	put(t, "specs/chaoskv.yaml", []byte(chaosKVSpec))
	_, err := ddb.CreateTable(context.Background(), &dynamodb.CreateTableInput{TableName: aws.String("sluice-chaos-kv"),
		BillingMode:          ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: ddbtypes.ScalarAttributeTypeN}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: ddbtypes.KeyTypeHash}}})
	var inUse *ddbtypes.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		t.Fatal(err)
	}
}

// TestChaosBatch runs uploads of mixed formats and sizes under each fault
// class (make chaos), or under all of them at once (the short version CI
// runs), and checks that every row arrives exactly once.
func TestChaosBatch(t *testing.T) {
	needStack(t)
	chaosSetup(t)
	seed := seedOf(t)
	r := rand.New(rand.NewPCG(seed, 1))
	n := 8
	type round struct {
		name        string
		plan        *offline.Chaos
		mustSucceed bool
	}
	all := &offline.Chaos{Seed: seed, S3Errors: 0.03, DynamoThrottle: 0.05, Unprocessed: 0.3, LambdaThrottle: 0.1, Kill: 0.05,
		Delay: 0.01, DelayMS: 3000, FunctionTimeoutMS: 2500, DuplicateS3: 0.3}
	rounds := []round{{"all faults at once", all, false}}
	if *chaosFull {
		n = 20
		rounds = []round{
			{"no faults", nil, true},
			{"S3 500 and 503 SlowDown", &offline.Chaos{Seed: seed, S3Errors: 0.05}, true},
			{"DynamoDB throttling", &offline.Chaos{Seed: seed, DynamoThrottle: 0.1}, true},
			{"BatchWriteItem UnprocessedItems", &offline.Chaos{Seed: seed, Unprocessed: 0.6}, true},
			{"Lambda 429", &offline.Chaos{Seed: seed, LambdaThrottle: 0.2}, true},
			{"process killed mid-invocation", &offline.Chaos{Seed: seed, Kill: 0.1}, true},
			// A stalled request outlasts the whole invocation, so a task can
			// time out on every attempt: executions may end in a recorded
			// failure here, which the same input again must complete.
			{"responses delayed past the timeout", &offline.Chaos{Seed: seed, Delay: 0.01, DelayMS: 3000, FunctionTimeoutMS: 2500}, false},
			{"S3 events delivered twice", &offline.Chaos{Seed: seed, DuplicateS3: 0.5}, true},
			{"all faults at once", all, false},
		}
	}
	for i, rd := range rounds {
		uploads := makeUploads(t, r, fmt.Sprintf("r%d", i), n)
		offsetKV(uploads, i)
		runRound(t, rd.name, rd.plan, uploads, rd.mustSucceed)
	}
}

// offsetKV makes the ids of kv uploads unique across the shared table
// (round*1e8 + upload*1e6 + row) and adds each row's source key, which
// kvItems uses to fold them back.
func offsetKV(uploads []chaosUpload, round int) {
	for i := range uploads {
		u := &uploads[i]
		if !u.kv {
			continue
		}
		base := int64(round)*100_000_000 + int64(i)*1_000_000
		lines := strings.Split(strings.TrimSuffix(string(u.body), "\n"), "\n")
		lines[0] += ",source"
		for j := 1; j < len(lines); j++ {
			id, rest, _ := strings.Cut(lines[j], ",")
			if id != "" {
				n, _ := strconv.ParseInt(id, 10, 64)
				id = strconv.FormatInt(base+n, 10)
			}
			lines[j] = id + "," + rest + "," + u.key
		}
		u.body = []byte(strings.Join(lines, "\n") + "\n")
	}
}

// TestChaosStream puts clicks on the stream under DynamoDB throttling,
// killed processes, Lambda throttling and duplicate deliveries; the
// window aggregates must equal the reference computed from the records.
func TestChaosStream(t *testing.T) {
	needStack(t)
	seed := seedOf(t)
	n := 4000
	if *chaosFull {
		n = 10_000
	}
	// A batch of 250 records is one invocation, so a run has a few dozen
	// invocations to meet the faults; at these shares a batch fails all
	// of its 10 retries about once in a million.
	plan := &offline.Chaos{Seed: seed, DynamoThrottle: 0.1, Kill: 0.15, KillWithinMS: 100, LambdaThrottle: 0.15, DuplicateKinesis: 0.5,
		S3Errors: 0.02, Functions: []string{"extract-function"}}
	postChaos(t, http.MethodPost, plan)
	t.Cleanup(func() { postChaos(t, http.MethodDelete, nil) })
	began := time.Now()
	sent := putClicks(t, rand.New(rand.NewPCG(seed, 3)), "/chaos", n)
	sent.wait(t, 3*time.Minute)
	st := postChaos(t, http.MethodGet, nil)
	postChaos(t, http.MethodDelete, nil)
	sent.check(t)
	// No batch used up its retries: the failure queue is empty.
	if n := failureQueueDepth(t); n != 0 {
		t.Fatalf("%d batches in the stream failure queue", n)
	}
	report(t, roundFigures{Round: "stream: throttling, kills, duplicate batches", Plan: plan, Sent: sent.total, Verified: sent.total,
		Seconds: time.Since(began).Seconds(), Injected: st.Injected})
	if st.Injected[offline.FaultDuplicateBatch] == 0 || st.Injected[offline.FaultKill]+st.Injected[offline.FaultLambdaThrottle] == 0 {
		t.Fatalf("the faults did not happen: %v", st.Injected)
	}
}

// TestChaosLoadKilledHalfway kills the load function while it publishes
// a run's parts. The retried load leaves exactly the run's parts, and
// _SUCCESS appears only once every part is there.
func TestChaosLoadKilledHalfway(t *testing.T) {
	needStack(t)
	chaosSetup(t)
	r := rand.New(rand.NewPCG(seedOf(t), 4))
	u := makeUploads(t, r, "killed-load", 1)[0]
	// Many parts: four chunks of 64 KiB over 20 days each.
	var plain bytes.Buffer
	plain.WriteString("id,name,amount,day\n")
	u.kept, u.rejected, u.rows = map[int64]string{}, 0, 12_000
	for j := range u.rows {
		amount := fmt.Sprintf("%d.%02d", j%1000, j%100)
		u.kept[int64(j)] = amount
		fmt.Fprintf(&plain, "%d,n%d,%s,2026-11-%02d\n", j, j, amount, 1+j%20)
	}
	u.key, u.body = "incoming/chaos/killed-load/orders.csv", plain.Bytes()
	fault(t, `{"function":"sluice-load-function","kind":"kill","count":1,"after_ms":40}`)
	old := map[string]bool{}
	for _, o := range listAll(t, "tables/chaos/_runs/") {
		old[aws.ToString(o.Key)] = true
	}
	before := seen(t)
	put(t, u.key, u.body)
	// Watch for this run's _SUCCESS: when it appears, the manifest and
	// every part it lists must be there.
	done := make(chan struct{})
	var early string
	go func() {
		defer close(done)
		for range 1500 {
			objs := listAll(t, "tables/chaos/")
			have := map[string]bool{}
			success := ""
			for _, o := range objs {
				k := aws.ToString(o.Key)
				have[k] = true
				if strings.HasSuffix(k, "/_SUCCESS") && !old[k] {
					success = k
				}
			}
			if success == "" {
				time.Sleep(20 * time.Millisecond)
				continue
			}
			var m map[string]any
			if err := json.Unmarshal(getObject(t, strings.TrimSuffix(success, "_SUCCESS")+"_manifest.json"), &m); err != nil {
				early = "_SUCCESS without a manifest"
				return
			}
			for _, p := range m["parts"].([]any) {
				if k := p.(map[string]any)["key"].(string); !have[k] {
					early = "_SUCCESS before part " + k
					return
				}
			}
			return
		}
	}()
	execs := finishedWithin(t, before, 1, 3*time.Minute)
	<-done
	if early != "" {
		t.Fatal(early)
	}
	if left := fault(t, `{"function":"sluice-load-function","kind":"kill","count":0}`); left != "null" {
		t.Fatalf("the kill did not happen: %s", left)
	}
	if execs[0].Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("execution %s", execs[0].Status)
	}
	fig := roundFigures{Round: "load killed halfway", Uploads: 1, Sent: u.rows, Executions: len(execs)}
	verifyUploads(t, []chaosUpload{u}, &fig)
	// Exactly the manifest's parts: nothing stale, nothing twice.
	m := manifestsForPrefix(t, u.key)
	var want []string
	for _, p := range m["parts"].([]any) {
		want = append(want, p.(map[string]any)["key"].(string))
	}
	var got []string
	for _, o := range listAll(t, "tables/chaos/") {
		if k := aws.ToString(o.Key); strings.Contains(k, "/part-"+fmt.Sprint(m["run_id"])[:8]+"-") {
			got = append(got, k)
		}
	}
	sort.Strings(want)
	sort.Strings(got)
	if strings.Join(got, ",") != strings.Join(want, ",") || len(got) < 40 {
		t.Fatalf("%d parts in the output, the manifest lists %d", len(got), len(want))
	}
	report(t, fig)
	if fig.Lost != 0 || fig.Duplicates != 0 {
		t.Fatalf("lost %d, duplicates %d", fig.Lost, fig.Duplicates)
	}
}

func manifestsForPrefix(t *testing.T, key string) map[string]any {
	t.Helper()
	for _, o := range listAll(t, "tables/chaos/_runs/") {
		k := aws.ToString(o.Key)
		if !strings.HasSuffix(k, "/_manifest.json") {
			continue
		}
		var m map[string]any
		if json.Unmarshal(getObject(t, k), &m) == nil {
			if src, _ := m["source"].(map[string]any); src != nil && src["key"] == key {
				return m
			}
		}
	}
	return nil
}

// failureQueueDepth counts the messages in the stream's OnFailure queue.
func failureQueueDepth(t *testing.T) int {
	t.Helper()
	ctx := context.Background()
	q, err := sqsc.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(stack.Template.PhysicalName("StreamFailureQueue"))})
	if err != nil {
		t.Fatal(err)
	}
	a, err := sqsc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages}})
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(a.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)])
	return n
}

// failureCause finds the error that sent an execution to its Catch: the
// last task failure in its history, and how many task failures it had.
func failureCause(t testing.TB, arn *string) string {
	t.Helper()
	var last string
	failures := 0
	p := sfn.NewGetExecutionHistoryPaginator(sfnc, &sfn.GetExecutionHistoryInput{ExecutionArn: arn})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			return err.Error()
		}
		for _, ev := range page.Events {
			switch {
			case ev.TaskFailedEventDetails != nil:
				failures++
				last = aws.ToString(ev.TaskFailedEventDetails.Error) + ": " + tail(aws.ToString(ev.TaskFailedEventDetails.Cause), 200)
			case ev.LambdaFunctionFailedEventDetails != nil:
				failures++
				last = aws.ToString(ev.LambdaFunctionFailedEventDetails.Error) + ": " + tail(aws.ToString(ev.LambdaFunctionFailedEventDetails.Cause), 200)
			}
		}
	}
	return fmt.Sprintf("%d task failures, the last %s", failures, last)
}
