package handler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/sluice-etl/sluice/examples"
	"github.com/sluice-etl/sluice/shared/adapter/claims"
	"github.com/sluice-etl/sluice/shared/adapter/metrics"
	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/adapter/storage/memblob"
	"github.com/sluice-etl/sluice/shared/core/deadline"
	"github.com/sluice-etl/sluice/shared/handler"
	"github.com/sluice-etl/sluice/shared/pipeline/output"
)

var update = flag.Bool("update", false, "rewrite the events/sfn-*-input.json fixtures that carry a run id")

var ctx = context.Background()

type env struct {
	buckets map[string]*memblob.Bucket
	mu      sync.Mutex
	metrics *metrics.MemStore
	emf     bytes.Buffer
	starter *fakeStarter
	s       handler.Settings
}

func newEnv(t testing.TB) *env {
	e := &env{buckets: map[string]*memblob.Bucket{}, metrics: &metrics.MemStore{}, starter: &fakeStarter{names: map[string]string{}}}
	e.s = handler.Settings{
		Specs:           map[string]string{"incoming/orders/": "bundled:orders"},
		StagingBucket:   "sluice-staging-bucket",
		OutputBucket:    "sluice-output-bucket",
		OutputPrefix:    "tables",
		StateMachineArn: "arn:aws:states:us-east-1:123456789012:stateMachine:sluice-etl",
		MetricsTable:    "sluice-metrics-table",
		ChunkBytes:      64 << 20,
		MaxInlineChunks: 40,
		MaxConcurrency:  10,
	}
	dir, err := examples.WriteOrders(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(dir + "/orders.csv")
	if err != nil {
		t.Fatal(err)
	}
	put(t, e.bucket("sluice-input-bucket"), "incoming/orders/orders.csv", data)
	return e
}

func (e *env) bucket(name string) *memblob.Bucket {
	e.mu.Lock()
	defer e.mu.Unlock()
	b, ok := e.buckets[name]
	if !ok {
		b = memblob.NewNamed(name)
		e.buckets[name] = b
	}
	return b
}

func (e *env) deps() handler.Deps {
	return handler.Deps{
		Open:    func(_ context.Context, name string) (storage.Bucket, error) { return e.bucket(name), nil },
		Starter: e.starter,
		Metrics: e.metrics,
		EMF:     &e.emf,
	}
}

func put(t testing.TB, b storage.Bucket, key string, data []byte) {
	t.Helper()
	if err := storage.WriteAll(ctx, b, key, data); err != nil {
		t.Fatal(err)
	}
}

// fakeStarter records executions and refuses a name it has seen, as Step
// Functions does.
type fakeStarter struct {
	mu    sync.Mutex
	names map[string]string
}

func (f *fakeStarter) StartExecution(_ context.Context, in *sfn.StartExecutionInput, _ ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, dup := f.names[*in.Name]; dup {
		return nil, &sfntypes.ExecutionAlreadyExists{Message: in.Name}
	}
	f.names[*in.Name] = *in.Input
	arn := "arn:aws:states:us-east-1:123456789012:execution:sluice-etl:" + *in.Name
	return &sfn.StartExecutionOutput{ExecutionArn: &arn}, nil
}

// invoke sends a fixture through the aws-lambda-go handler machinery,
// as the runtime does, and decodes the answer into out.
func invoke(t testing.TB, h any, payload []byte, out any) error {
	t.Helper()
	resp, err := lambda.NewHandler(h).Invoke(ctx, payload)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(resp, out); err != nil {
		t.Fatalf("decode %s: %v", resp, err)
	}
	return nil
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile("../../events/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func writeFixture(t *testing.T, name string, v any) {
	t.Helper()
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("../../events/"+name, append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSFNPathFromFixtures drives the three functions through the state
// machine's task inputs, as events/sfn-*.json give them.
func TestSFNPathFromFixtures(t *testing.T) {
	e := newEnv(t)
	ex := handler.NewExtractor(e.s, e.deps())
	var planned handler.Planned
	if err := invoke(t, ex, fixture(t, "sfn-extract-input.json"), &planned); err != nil {
		t.Fatal(err)
	}
	run := planned.RunID
	want := handler.Planned{
		RunID: run, Pipeline: "orders", Source: handler.ObjectRef{Bucket: "sluice-input-bucket", Key: "incoming/orders/orders.csv"},
		StagingBucket: "sluice-staging-bucket", JobKey: "runs/" + run + "/job.json", ChunkCount: 1, MaxConcurrency: 10,
		Chunks: []handler.ChunkTask{{StagingBucket: "sluice-staging-bucket", JobKey: "runs/" + run + "/job.json", Index: 0, Start: 0, End: 1934}},
	}
	if fmt.Sprint(planned) != fmt.Sprint(want) {
		t.Fatalf("planned = %+v\nwant      %+v", planned, want)
	}
	loadIn := handler.LoadInput{Action: handler.ActionLoad, Run: planned}
	if *update {
		writeFixture(t, "sfn-transform-input.json", planned.Chunks[0])
		writeFixture(t, "sfn-load-input.json", loadIn)
	}
	// The fixtures must be exactly what this extract produced.
	var fxChunk handler.ChunkTask
	var fxLoad handler.LoadInput
	json.Unmarshal(fixture(t, "sfn-transform-input.json"), &fxChunk)
	json.Unmarshal(fixture(t, "sfn-load-input.json"), &fxLoad)
	if fxChunk != planned.Chunks[0] || fmt.Sprint(fxLoad) != fmt.Sprint(loadIn) {
		t.Fatalf("events/sfn-transform-input.json or sfn-load-input.json drifted from extract's output; run go test ./shared/handler -update")
	}

	tr := handler.NewTransformer(e.s, e.deps())
	var done handler.ChunkDone
	if err := invoke(t, tr.Handle, fixture(t, "sfn-transform-input.json"), &done); err != nil {
		t.Fatal(err)
	}
	if done != (handler.ChunkDone{Index: 0, Records: 25, ResultKey: "runs/" + run + "/results/c00000.json"}) {
		t.Fatalf("transform = %+v", done)
	}
	// A retried transform task overwrites; nothing doubles.
	if err := invoke(t, tr.Handle, fixture(t, "sfn-transform-input.json"), &done); err != nil {
		t.Fatal(err)
	}

	ld := handler.NewLoader(e.s, e.deps())
	var loaded handler.LoadOutput
	if err := invoke(t, ld.Handle, fixture(t, "sfn-load-input.json"), &loaded); err != nil {
		t.Fatal(err)
	}
	wantLoad := handler.LoadOutput{RunID: run, Pipeline: "orders", Status: "succeeded", ManifestKey: "runs/" + run + "/manifest.json", In: 25, Out: 10, Rejected: 12, Filtered: 3}
	if loaded != wantLoad {
		t.Fatalf("load = %+v\nwant   %+v", loaded, wantLoad)
	}
	out := e.bucket("sluice-output-bucket")
	if _, err := out.Attributes(ctx, "tables/orders/_runs/"+run+"/_SUCCESS"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("_SUCCESS before finalize: %v", err)
	}
	fin := handler.LoadInput{Action: handler.ActionFinalize, Run: planned, ManifestKey: loaded.ManifestKey}
	finJSON, _ := json.Marshal(fin)
	var final handler.LoadOutput
	for range 2 { // finalize is safe to repeat
		if err := invoke(t, ld.Handle, finJSON, &final); err != nil {
			t.Fatal(err)
		}
		wantLoad.ManifestKey = ""
		if final != wantLoad {
			t.Fatalf("finalize = %+v", final)
		}
	}
	if q, _ := out.List(ctx, "quarantine/orders/"); len(q) != 1 || q[0].Key != "quarantine/orders/part-"+run[:8]+"-c00000.jsonl" {
		t.Fatalf("quarantine = %v", q)
	}
	objs, _ := out.List(ctx, "tables/orders/")
	var keys []string
	for _, o := range objs {
		keys = append(keys, strings.Replace(o.Key, run, "RUN", 1))
	}
	r8 := run[:8]
	wantKeys := []string{
		"tables/orders/_runs/RUN/_SUCCESS", "tables/orders/_runs/RUN/_manifest.json", "tables/orders/_runs/RUN/_profile.json",
		"tables/orders/dt=2026-11-01/part-" + r8 + "-c00000-00000.jsonl",
		"tables/orders/dt=2026-11-02/part-" + r8 + "-c00000-00000.jsonl",
		"tables/orders/dt=2026-11-03/part-" + r8 + "-c00000-00000.jsonl",
	}
	if strings.Join(keys, "\n") != strings.Join(wantKeys, "\n") {
		t.Fatalf("output keys:\n%s\nwant\n%s", strings.Join(keys, "\n"), strings.Join(wantKeys, "\n"))
	}
	if left, _ := e.bucket("sluice-staging-bucket").List(ctx, ""); len(left) != 0 {
		t.Fatalf("staging not cleared: %d objects", len(left))
	}
	rec := e.metrics.Runs[run]
	if rec.Status != "succeeded" || rec.In != 25 || rec.Out != 10 || rec.Rejected != 12 || rec.Filtered != 3 || rec.Pipeline != "orders" || rec.Parts != 3 || rec.ExpiresAt == 0 {
		t.Fatalf("metrics record = %+v", rec)
	}
	lines := strings.Split(strings.TrimSpace(e.emf.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], `"RecordsIn":25`) || !strings.Contains(lines[0], `"Namespace":"sluice"`) || strings.Contains(lines[0], "example.com") {
		t.Fatalf("EMF lines = %v", lines)
	}
}

func TestEventBridgeEventPlansTheSameRun(t *testing.T) {
	e := newEnv(t)
	ex := handler.NewExtractor(e.s, e.deps())
	var a, b handler.Planned
	if err := invoke(t, ex, fixture(t, "sfn-extract-input.json"), &a); err != nil {
		t.Fatal(err)
	}
	if err := invoke(t, ex, fixture(t, "eventbridge-object-created.json"), &b); err != nil {
		t.Fatal(err)
	}
	if b.RunID != a.RunID || b.Source.Key != "incoming/orders/orders.csv" || b.Source.ETag != "0123456789abcdef0123456789abcdef" || b.ChunkCount != 1 {
		t.Fatalf("eventbridge planned %+v, task planned run %s", b, a.RunID)
	}
}

func TestS3NotificationStartsOneExecutionPerUpload(t *testing.T) {
	e := newEnv(t)
	ex := handler.NewExtractor(e.s, e.deps())
	var first, again handler.Started
	if err := invoke(t, ex, fixture(t, "s3-put.json"), &first); err != nil {
		t.Fatal(err)
	}
	ref := handler.ObjectRef{Bucket: "sluice-input-bucket", Key: "incoming/orders/orders.csv", ETag: "0123456789abcdef0123456789abcdef"}
	name := handler.ExecutionName(ref)
	if len(first.Started) != 1 || first.Started[0] != name || len(first.Duplicates) != 0 || first.Ignored != 0 {
		t.Fatalf("first delivery = %+v", first)
	}
	wantInput, _ := json.Marshal(ref)
	if e.starter.names[name] != string(wantInput) {
		t.Fatalf("execution input = %s, want %s", e.starter.names[name], wantInput)
	}
	// S3 delivers at least once: the repeat starts nothing.
	if err := invoke(t, ex, fixture(t, "s3-put.json"), &again); err != nil {
		t.Fatal(err)
	}
	if len(again.Started) != 0 || len(again.Duplicates) != 1 || again.Duplicates[0] != name {
		t.Fatalf("repeat delivery = %+v", again)
	}
}

func TestS3NotificationURLEncodedKey(t *testing.T) {
	e := newEnv(t)
	ex := handler.NewExtractor(e.s, e.deps())
	var got handler.Started
	if err := invoke(t, ex, fixture(t, "s3-put-urlencoded-key.json"), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Started) != 1 || got.Ignored != 1 {
		t.Fatalf("got %+v, want 1 started and the delete ignored", got)
	}
	var ref handler.ObjectRef
	json.Unmarshal([]byte(e.starter.names[got.Started[0]]), &ref)
	if ref.Key != "incoming/orders/nov orders=2026.csv" || ref.VersionID != "3sL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY" {
		t.Fatalf("decoded ref = %+v", ref)
	}
}

func TestS3TestEventIgnored(t *testing.T) {
	e := newEnv(t)
	ex := handler.NewExtractor(e.s, e.deps())
	var got handler.Started
	err := invoke(t, ex, []byte(`{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-23T10:00:00Z","Bucket":"sluice-input-bucket","RequestId":"X","HostId":"Y"}`), &got)
	if err != nil || got.Ignored != 1 || len(got.Started) != 0 || len(e.starter.names) != 0 {
		t.Fatalf("test event: %+v %v", got, err)
	}
}

func TestRefusedKeys(t *testing.T) {
	e := newEnv(t)
	ex := handler.NewExtractor(e.s, e.deps())
	for _, c := range []struct{ key, want string }{
		{"incoming/orders/../secrets.csv", "invalid object key"},
		{"elsewhere/orders.csv", "no spec is configured"},
		{"incoming/orders/a\x01b.csv", "invalid object key"},
	} {
		payload, _ := json.Marshal(handler.ObjectRef{Bucket: "sluice-input-bucket", Key: c.key})
		var p handler.Planned
		if err := invoke(t, ex, payload, &p); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("key %q: err = %v, want %q", c.key, err, c.want)
		}
	}
	var p handler.Planned
	if err := invoke(t, ex, []byte(`{"hello":"world"}`), &p); err == nil || !strings.Contains(err.Error(), "unsupported event") {
		t.Errorf("unknown payload: %v", err)
	}
}

func TestDistributedWhenManyChunks(t *testing.T) {
	e := newEnv(t)
	e.s.ChunkBytes, e.s.MaxInlineChunks = 400, 2
	e.s.Specs["big/"] = "s3://sluice-specs/big.yaml"
	put(t, e.bucket("sluice-specs"), "big.yaml", []byte("version: 1\nname: big\nsource: {format: csv}\nfields:\n  - {name: id, type: int}\n  - {name: v}\n"))
	var b strings.Builder
	b.WriteString("id,v\n")
	for i := range 400 {
		fmt.Fprintf(&b, "%d,value %d\n", i, i)
	}
	put(t, e.bucket("sluice-input-bucket"), "big/data.csv", []byte(b.String()))
	ex := handler.NewExtractor(e.s, e.deps())
	var p handler.Planned
	if err := invoke(t, ex, []byte(`{"bucket":"sluice-input-bucket","key":"big/data.csv"}`), &p); err != nil {
		t.Fatal(err)
	}
	if !p.Distributed || len(p.Chunks) != 0 || p.ChunksKey != "runs/"+p.RunID+"/chunks.json" || p.ChunkCount < 10 {
		t.Fatalf("planned = %+v", p)
	}
	data, err := storage.ReadAll(ctx, e.bucket("sluice-staging-bucket"), p.ChunksKey)
	if err != nil {
		t.Fatal(err)
	}
	var tasks []handler.ChunkTask
	if err := json.Unmarshal(data, &tasks); err != nil || len(tasks) != p.ChunkCount {
		t.Fatalf("chunks.json: %d tasks, %v", len(tasks), err)
	}
	// Every chunk through transform (out of order), then load.
	tr := handler.NewTransformer(e.s, e.deps())
	for i := len(tasks) - 1; i >= 0; i-- {
		payload, _ := json.Marshal(tasks[i])
		var d handler.ChunkDone
		if err := invoke(t, tr.Handle, payload, &d); err != nil {
			t.Fatal(err)
		}
	}
	ld := handler.NewLoader(e.s, e.deps())
	var out handler.LoadOutput
	payload, _ := json.Marshal(handler.LoadInput{Action: handler.ActionLoad, Run: p})
	if err := invoke(t, ld.Handle, payload, &out); err != nil {
		t.Fatal(err)
	}
	if out.In != 400 || out.Out != 400 || out.Status != output.StatusSucceeded {
		t.Fatalf("load = %+v", out)
	}
}

func TestFailActionRecordsTheRun(t *testing.T) {
	e := newEnv(t)
	ld := handler.NewLoader(e.s, e.deps())
	payload := []byte(`{"action":"fail","input":` + string(fixture(t, "eventbridge-object-created.json")) + `,"error":{"Error":"Lambda.Unknown","Cause":"task timed out"}}`)
	var out handler.LoadOutput
	if err := invoke(t, ld.Handle, payload, &out); err != nil {
		t.Fatal(err)
	}
	if out.Status != "failed" || out.Error != "Lambda.Unknown: task timed out" {
		t.Fatalf("fail = %+v", out)
	}
	rec, ok := e.metrics.Runs[out.RunID]
	if !ok || rec.Status != "failed" || rec.Error != out.Error || !strings.HasSuffix(rec.Source, "incoming/orders/orders.csv") {
		t.Fatalf("metrics = %+v", e.metrics.Runs)
	}
}

func TestSettingsFromEnv(t *testing.T) {
	env := map[string]string{handler.EnvSpecs: `{"in/":"bundled:orders"}`, handler.EnvStagingBucket: "st"}
	s, err := handler.SettingsFromEnv("extract", func(k string) string { return env[k] })
	if err != nil || s.Specs["in/"] != "bundled:orders" || s.ChunkBytes != 64<<20 || s.MaxInlineChunks != 40 {
		t.Fatalf("settings %+v, %v", s, err)
	}
	if _, err := handler.SettingsFromEnv("load", func(k string) string { return env[k] }); err == nil ||
		err.Error() != "load: missing environment: SLUICE_METRICS_TABLE, SLUICE_OUTPUT_BUCKET" {
		t.Fatalf("load settings error = %v", err)
	}
	env[handler.EnvChunkBytes] = "lots"
	if _, err := handler.SettingsFromEnv("extract", func(k string) string { return env[k] }); err == nil {
		t.Fatal("bad chunk size accepted")
	}
}

func TestClaimsMakeARunHappenOnce(t *testing.T) {
	e := newEnv(t)
	d := e.deps()
	d.Claims = &claims.Mem{}
	ex := handler.NewExtractor(e.s, d)
	task := func(execution string) []byte {
		return []byte(`{"event":` + string(fixture(t, "eventbridge-object-created.json")) + `,"execution":"` + execution + `"}`)
	}
	var a, b, again handler.Planned
	if err := invoke(t, ex, task("exec-a"), &a); err != nil || a.Skip || a.ChunkCount != 1 {
		t.Fatalf("first execution: %+v %v", a, err)
	}
	if err := invoke(t, ex, task("exec-b"), &b); err != nil || !b.Skip || b.SkipReason != "in_progress" || b.RunID != a.RunID {
		t.Fatalf("duplicate execution: %+v %v", b, err)
	}
	if err := invoke(t, ex, task("exec-a"), &again); err != nil || again.Skip {
		t.Fatalf("retried extract of the owner: %+v %v", again, err)
	}
	// Run it to the end: the claim becomes done.
	tr, ld := handler.NewTransformer(e.s, d), handler.NewLoader(e.s, d)
	chunk, _ := json.Marshal(a.Chunks[0])
	var done handler.ChunkDone
	var loaded, final handler.LoadOutput
	if err := invoke(t, tr.Handle, chunk, &done); err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(handler.LoadInput{Action: handler.ActionLoad, Run: a})
	if err := invoke(t, ld.Handle, payload, &loaded); err != nil {
		t.Fatal(err)
	}
	payload, _ = json.Marshal(handler.LoadInput{Action: handler.ActionFinalize, Run: a, ManifestKey: loaded.ManifestKey})
	if err := invoke(t, ld.Handle, payload, &final); err != nil {
		t.Fatal(err)
	}
	var late handler.Planned
	if err := invoke(t, ex, task("exec-c"), &late); err != nil || !late.Skip || late.SkipReason != "done" {
		t.Fatalf("late duplicate: %+v %v", late, err)
	}
	// A failed run releases its claim, so a retry can run.
	var failed handler.LoadOutput
	payload, _ = json.Marshal(handler.LoadInput{Action: handler.ActionFail, Run: a, Error: &handler.CaughtError{Error: "X", Cause: "y"}})
	if err := invoke(t, ld.Handle, payload, &failed); err != nil {
		t.Fatal(err)
	}
	var retry handler.Planned
	if err := invoke(t, ex, task("exec-d"), &retry); err != nil || retry.Skip {
		t.Fatalf("retry after a failure: %+v %v", retry, err)
	}
}

// An in-progress claim lives as long as the invocation holding it may
// run, plus the grace for the state machine's retries; each task of the
// run extends it. A run whose invocations died can run again soon after,
// not hours later.
func TestClaimExpiresWithTheRemainingTime(t *testing.T) {
	e := newEnv(t)
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	task := []byte(`{"event":` + string(fixture(t, "eventbridge-object-created.json")) + `,"execution":"exec-a"}`)
	// start claims the run in an extract invocation with 30 s left.
	start := func(t *testing.T) (*claims.Mem, *time.Time, handler.Deps, *handler.Planned) {
		now := t0
		mem := &claims.Mem{Now: func() time.Time { return now }}
		d := e.deps()
		d.Claims, d.Now = mem, func() time.Time { return now }
		// The invocation's deadline is on the test's clock: a real context
		// from that fixed date would have expired already.
		ctx := deadline.WithClock(context.Background(), now.Add(30*time.Second), d.Now)
		var in handler.TaskInput
		if err := json.Unmarshal(task, &in); err != nil {
			t.Fatal(err)
		}
		out, err := handler.NewExtractor(e.s, d).HandleTask(ctx, in)
		if err != nil || out.Skip {
			t.Fatalf("claim: %+v %v", out, err)
		}
		return mem, &now, d, out
	}
	// held reports whether another execution would find the run in
	// progress at t (probing takes the claim when it is free).
	held := func(t *testing.T, mem *claims.Mem, now *time.Time, at time.Time, runID string) bool {
		*now = at
		st, err := mem.Claim(context.Background(), runID, "exec-b", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return st == claims.InProgress
	}
	t.Run("extract", func(t *testing.T) {
		mem, now, _, a := start(t)
		if !held(t, mem, now, t0.Add(30*time.Second+handler.ClaimGrace-time.Second), a.RunID) {
			t.Fatal("the claim expired before the invocation's deadline plus the grace")
		}
		if held(t, mem, now, t0.Add(30*time.Second+handler.ClaimGrace+time.Second), a.RunID) {
			t.Fatal("the claim outlived the invocation's deadline plus the grace")
		}
	})
	t.Run("transform extends", func(t *testing.T) {
		mem, now, d, a := start(t)
		// Five minutes on, a transform task with 15 minutes left.
		*now = t0.Add(5 * time.Minute)
		ctx := deadline.WithClock(context.Background(), now.Add(15*time.Minute), d.Now)
		if _, err := handler.NewTransformer(e.s, d).Handle(ctx, a.Chunks[0]); err != nil {
			t.Fatal(err)
		}
		end := t0.Add(20*time.Minute + handler.ClaimGrace)
		if !held(t, mem, now, end.Add(-time.Second), a.RunID) {
			t.Fatal("the transform task did not extend the claim")
		}
		if held(t, mem, now, end.Add(time.Second), a.RunID) {
			t.Fatal("the extension outlived the transform's deadline plus the grace")
		}
	})
}

// flakyMetrics fails its first PutRun, as a throttled table does after
// the SDK's retries.
type flakyMetrics struct {
	metrics.MemStore
	failed bool
}

func (f *flakyMetrics) PutRun(ctx context.Context, r metrics.Run) error {
	if !f.failed {
		f.failed = true
		return errors.New("ProvisionedThroughputExceededException")
	}
	return f.MemStore.PutRun(ctx, r)
}

// A finalize whose metrics write fails after _SUCCESS is retried by the
// state machine; the retry finds staging cleared and must still write
// the metrics item and complete the claim.
func TestFinalizeRetryAfterAFailedMetricsWrite(t *testing.T) {
	e := newEnv(t)
	fm := &flakyMetrics{MemStore: metrics.MemStore{Runs: map[string]metrics.Run{}}}
	mem := &claims.Mem{}
	d := e.deps()
	d.Metrics, d.Claims = fm, mem
	var p handler.Planned
	if err := invoke(t, handler.NewExtractor(e.s, d), []byte(`{"event":`+string(fixture(t, "eventbridge-object-created.json"))+`,"execution":"x"}`), &p); err != nil {
		t.Fatal(err)
	}
	var done handler.ChunkDone
	if err := invoke(t, handler.NewTransformer(e.s, d).Handle, mustJSON(p.Chunks[0]), &done); err != nil {
		t.Fatal(err)
	}
	ld := handler.NewLoader(e.s, d)
	var loaded, final handler.LoadOutput
	if err := invoke(t, ld.Handle, mustJSON(handler.LoadInput{Action: handler.ActionLoad, Run: p}), &loaded); err != nil {
		t.Fatal(err)
	}
	fin := mustJSON(handler.LoadInput{Action: handler.ActionFinalize, Run: p, ManifestKey: loaded.ManifestKey})
	if err := invoke(t, ld.Handle, fin, &final); err == nil {
		t.Fatal("the failed metrics write was not reported")
	}
	if len(fm.Runs) != 0 {
		t.Fatalf("metrics = %v", fm.Runs)
	}
	if err := invoke(t, ld.Handle, fin, &final); err != nil || final.Status != "succeeded" {
		t.Fatalf("retry: %+v %v", final, err)
	}
	if r, ok := fm.Runs[p.RunID]; !ok || r.Out != 10 || r.Status != "succeeded" {
		t.Fatalf("metrics after the retry = %+v", fm.Runs)
	}
	if st, _ := mem.Claim(ctx, p.RunID, "another", time.Hour); st != claims.Done {
		t.Fatalf("claim after the retry: %s", st)
	}
}

// describer answers DescribeExecution from a map of statuses.
type describer map[string]sfntypes.ExecutionStatus

func (d describer) DescribeExecution(_ context.Context, in *sfn.DescribeExecutionInput, _ ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	st, ok := d[aws.ToString(in.ExecutionArn)]
	if !ok {
		return nil, errors.New("ExecutionDoesNotExist")
	}
	return &sfn.DescribeExecutionOutput{ExecutionArn: in.ExecutionArn, Status: st}, nil
}

// An execution that failed without releasing its run's claim does not
// make a retry stand down: the retry sees the holder has ended and takes
// the claim over. A holder still running keeps it.
func TestRetryTakesTheClaimOfAnEndedExecution(t *testing.T) {
	e := newEnv(t)
	mem := &claims.Mem{}
	execs := describer{}
	d := e.deps()
	d.Claims, d.Executions = mem, execs
	ex := handler.NewExtractor(e.s, d)
	arn := func(name string) string { return "arn:aws:states:us-east-1:123456789012:execution:sluice-etl:" + name }
	task := func(name string) []byte {
		return []byte(`{"event":` + string(fixture(t, "eventbridge-object-created.json")) + `,"execution":"` + name + `","execution_arn":"` + arn(name) + `"}`)
	}
	var a handler.Planned
	if err := invoke(t, ex, task("first"), &a); err != nil || a.Skip {
		t.Fatalf("first: %+v %v", a, err)
	}
	execs[arn("first")] = sfntypes.ExecutionStatusRunning
	var b handler.Planned
	if err := invoke(t, ex, task("second"), &b); err != nil || !b.Skip || b.SkipReason != "in_progress" {
		t.Fatalf("while the first runs: %+v %v", b, err)
	}
	execs[arn("first")] = sfntypes.ExecutionStatusFailed // died holding the claim
	var c handler.Planned
	if err := invoke(t, ex, task("retry"), &c); err != nil || c.Skip || c.RunID != a.RunID {
		t.Fatalf("the retry stood down for a failed holder: %+v %v", c, err)
	}
	if h, _ := mem.Holder(ctx, a.RunID); h != arn("retry") {
		t.Fatalf("holder = %q", h)
	}
	execs[arn("retry")] = sfntypes.ExecutionStatusRunning
	var late handler.Planned
	if err := invoke(t, ex, task("late"), &late); err != nil || !late.Skip {
		t.Fatalf("a duplicate while the retry runs: %+v %v", late, err)
	}
}
