package samtemplate_test

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluice-etl/sluice/internal/samtemplate"
)

func TestRepoTemplateResolves(t *testing.T) {
	tp, err := samtemplate.Load("../../template.yaml", "sluice", map[string]string{"MaxConcurrency": "3"})
	if err != nil {
		t.Fatal(err)
	}
	fns, err := tp.Functions()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]samtemplate.Function{}
	for _, f := range fns {
		got[f.Sluice] = f
	}
	ex, ld := got["extract"], got["load"]
	if ex.Name != "sluice-extract-function" || ex.Timeout != 120 || ex.MemorySize != 512 || ex.Arch != "arm64" || ex.Runtime != "provided.al2023" {
		t.Fatalf("extract = %+v", ex)
	}
	if ex.Env["SLUICE_MAX_CONCURRENCY"] != "3" || ex.Env["SLUICE_STAGING_BUCKET"] != "sluice-staging-bucket" || ex.Env["SLUICE_SPECS"] != `{"incoming/orders/":"bundled:orders"}` {
		t.Fatalf("extract env = %v", ex.Env)
	}
	if ld.Env["SLUICE_METRICS_TABLE"] != "sluice-metrics-table" || ld.Env["SLUICE_OUTPUT_BUCKET"] != "sluice-output-bucket" || ld.Timeout != 900 || ld.MemorySize != 512 {
		t.Fatalf("load = %+v", ld)
	}
	if got["transform"].MemorySize != 512 {
		t.Fatalf("transform memory = %d (TransformMemory default)", got["transform"].MemorySize)
	}
	sms, err := tp.StateMachines()
	if err != nil || len(sms) != 1 {
		t.Fatalf("state machines: %v %v", sms, err)
	}
	if strings.Contains(sms[0].Definition, "${") || !strings.Contains(sms[0].Definition, `"arn:aws:lambda:us-east-1:000000000000:function:sluice-transform-function"`) {
		t.Fatalf("definition not rendered")
	}
	if !json.Valid([]byte(sms[0].Definition)) {
		t.Fatal("rendered definition is not JSON")
	}
	b, prefix, ok := tp.EventPrefix(sms[0].Resource)
	if !ok || b != "InputBucket" || prefix != "incoming/" {
		t.Fatalf("event rule: %s %q %v", b, prefix, ok)
	}
	var tables []string
	for _, tb := range tp.Tables() {
		tables = append(tables, tb.Name+":"+tb.Keys[0][0]+":"+tb.TTL)
	}
	if strings.Join(tables, " ") != "sluice-metrics-table:run_id:expires_at sluice-window-state-table:pk:expires_at sluice-idempotency-table:id:expires_at" {
		t.Fatalf("tables = %v", tables)
	}
	if _, err := samtemplate.Load("../../template.yaml", "sluice", map[string]string{"Nope": "1"}); err == nil {
		t.Fatal("unknown parameter accepted")
	}
}

func TestKinesisEvents(t *testing.T) {
	dir := t.TempDir()
	tmpl := `
Resources:
  Stream:
    Type: AWS::Kinesis::Stream
    Properties: {ShardCount: 1}
  Failures:
    Type: AWS::SQS::Queue
  Fn:
    Type: AWS::Serverless::Function
    Metadata: {SluiceFunction: extract}
    Properties:
      Events:
        Records:
          Type: Kinesis
          Properties:
            Stream: !GetAtt Stream.Arn
            BatchSize: 50
            StartingPosition: TRIM_HORIZON
            MaximumBatchingWindowInSeconds: 2
            TumblingWindowInSeconds: 60
            FunctionResponseTypes: [ReportBatchItemFailures]
            BisectBatchOnFunctionError: true
            MaximumRetryAttempts: 3
            DestinationConfig: {OnFailure: {Destination: !GetAtt Failures.Arn}}
  Mapping:
    Type: AWS::Lambda::EventSourceMapping
    Properties:
      FunctionName: !Ref Fn
      EventSourceArn: !GetAtt Stream.Arn
      StartingPosition: LATEST
      ParallelizationFactor: 2
      BisectBatchOnFunctionError: false
  QueueMapping:
    Type: AWS::Lambda::EventSourceMapping
    Properties:
      FunctionName: !Ref Fn
      EventSourceArn: !GetAtt Failures.Arn
`
	if err := os.WriteFile(dir+"/template.yaml", []byte(tmpl), 0o644); err != nil {
		t.Fatal(err)
	}
	tp, err := samtemplate.Load(dir+"/template.yaml", "s", nil)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := tp.KinesisEvents()
	if err != nil || len(evs) != 2 {
		t.Fatalf("events %v %v", evs, err)
	}
	want := samtemplate.KinesisEvent{Function: "s-fn", Stream: "s-stream", StreamArn: "arn:aws:kinesis:us-east-1:000000000000:stream/s-stream",
		BatchSize: 50, MaxBatchingWindow: 2, StartingPosition: "TRIM_HORIZON", TumblingWindow: 60, ReportBatchItemFailures: true,
		Bisect: true, MaxRetryAttempts: 3, ParallelizationFactor: 1, OnFailure: "arn:aws:sqs:us-east-1:000000000000:s-failures", Source: "Fn Records"}
	if evs[0] != want {
		t.Fatalf("event %+v\nwant  %+v", evs[0], want)
	}
	want = samtemplate.KinesisEvent{Function: "s-fn", Stream: "s-stream", StreamArn: "arn:aws:kinesis:us-east-1:000000000000:stream/s-stream",
		BatchSize: 100, StartingPosition: "LATEST", MaxRetryAttempts: -1, ParallelizationFactor: 2, Source: "Mapping"}
	if evs[1] != want {
		t.Fatalf("mapping %+v\nwant    %+v", evs[1], want)
	}
	repo, _ := samtemplate.Load("../../template.yaml", "sluice", nil)
	if evs, err := repo.KinesisEvents(); err != nil || len(evs) != 1 || evs[0].Function != "sluice-extract-function" ||
		!evs[0].ReportBatchItemFailures || !evs[0].Bisect || evs[0].MaxRetryAttempts != 10 || evs[0].ParallelizationFactor != 1 ||
		evs[0].BatchSize != 500 || evs[0].StartingPosition != "TRIM_HORIZON" || evs[0].OnFailure == "" || evs[0].Stream != "sluice-input-stream" {
		t.Fatalf("repo template: %+v %v", evs, err)
	}
}

// The template's schedules: extract's flush of held table files every
// minute, and the commit function's compaction every CompactEveryMinutes.
func TestSchedules(t *testing.T) {
	tp, err := samtemplate.Load("../../template.yaml", "sluice", map[string]string{"CompactEveryMinutes": "15"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := tp.Schedules()
	if err != nil {
		t.Fatal(err)
	}
	want := []samtemplate.Schedule{
		{Function: "sluice-extract-function", Every: time.Minute, Input: `{"flush_tables":{"streams":["sluice-input-stream"]}}`, Source: "ExtractFunction FlushTables"},
		{Function: "sluice-commit-function", Every: 15 * time.Minute, Input: `{"op":"compact"}`, Source: "CommitFunction Compact"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("schedules %+v, want %+v", got, want)
	}
	for expr, want := range map[string]string{
		"rate(1 minute)":  "1m0s",
		"rate(2 hours)":   "2h0m0s",
		"cron(0 * * * ?)": `schedule "cron(0 * * * ?)": want rate(N unit)`,
		"rate(0 minutes)": `schedule "rate(0 minutes)": "0" is not a positive number`,
		"rate(5 seconds)": `schedule "rate(5 seconds)": unit "seconds" (want minutes, hours or days)`,
	} {
		d, err := samtemplate.ParseRate(expr)
		got := fmt.Sprint(d)
		if err != nil {
			got = err.Error()
		}
		if got != want {
			t.Errorf("ParseRate(%q) = %s, want %s", expr, got, want)
		}
	}
}
