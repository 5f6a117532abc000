// Package e2e runs the real bootstrap binaries through the real state
// machine on the offline stack (moto plus sluice's local Lambda service),
// from an upload to the output, the rejects and the metrics table.
package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sluice-etl/sluice/internal/buildtest"
	"github.com/sluice-etl/sluice/internal/motoserver"
	"github.com/sluice-etl/sluice/internal/offline"
)

var (
	stack *offline.Stack
	upErr error
	s3c   *s3.Client
	sfnc  *sfn.Client
	ddb   *dynamodb.Client
	kc    *kinesis.Client
	sqsc  *sqs.Client
	logs  bytes.Buffer
	smArn string
	// awsCfg reaches the stack.
	awsCfg aws.Config
	// stackParams are the template parameters the stack was deployed
	// with; stackView is its repository view (template, bootstraps).
	stackParams map[string]string
	stackView   string
)

func TestMain(m *testing.M) {
	code := func() int {
		repo, _ := filepath.Abs("..")
		view, err := os.MkdirTemp("", "sluice-e2e-")
		if err != nil {
			panic(err)
		}
		defer os.RemoveAll(view)
		for _, p := range []string{"template.yaml", "statemachine", "localstack"} {
			if err := os.Symlink(filepath.Join(repo, p), filepath.Join(view, p)); err != nil {
				panic(err)
			}
		}
		if err := buildtest.Bootstraps(repo, filepath.Join(view, "bin/lambda")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if _, err := exec.LookPath("moto_server"); err != nil {
			upErr = motoserver.ErrUnavailable
			return m.Run()
		}
		ctx := context.Background()
		// Small chunks so a few hundred KB fan out, and a low inline limit
		// so that fan-out goes through the Distributed Map.
		// The tests send the schedules' payloads themselves (flushTables,
		// compactSpec): no clock fires them.
		stackParams = map[string]string{"ChunkBytes": "64KiB", "MaxInlineChunks": "4", "MaxConcurrency": "3", "StreamShards": "2", "StreamBatchSize": "250",
			"Specs":       `{"incoming/orders/":"bundled:orders","incoming/big/":"s3://sluice-input-bucket/specs/big.yaml","incoming/strict/":"s3://sluice-input-bucket/specs/strict.yaml",` + chaosRoutes + `,` + lakeRoute + `}`,
			"StreamSpecs": `{"*":"` + streamSpecLoc + `"}`}
		stackView = view
		o := offline.Options{Addr: "127.0.0.1:0", Repo: view, FunctionLogs: &logs, Ticks: offline.NoTicks, Params: stackParams}
		if os.Getenv("SLUICE_E2E_LOG") != "" {
			o.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
			o.FunctionLogs = io.MultiWriter(&logs, os.Stderr)
		}
		stack, upErr = offline.Up(ctx, o)
		if upErr == nil {
			defer stack.Down()
			cfg, err := config.LoadDefaultConfig(ctx, config.WithBaseEndpoint(stack.Endpoint), config.WithRegion("us-east-1"),
				config.WithCredentialsProvider(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
					return aws.Credentials{AccessKeyID: "testing", SecretAccessKey: "testing"}, nil
				})))
			if err != nil {
				panic(err)
			}
			awsCfg = cfg
			s3c = s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
			sfnc = sfn.NewFromConfig(cfg)
			ddb = dynamodb.NewFromConfig(cfg)
			kc = kinesis.NewFromConfig(cfg)
			sqsc = sqs.NewFromConfig(cfg)
			smArn, _ = stack.Template.Arn("EtlStateMachine")
			upErr = putStreamSpec(ctx, clicksJSONL)
		}
		return m.Run()
	}()
	os.Exit(code)
}

func needStack(t testing.TB) {
	t.Helper()
	motoserver.Need(t, upErr)
}

func TestOrdersUploadRunsThroughTheStateMachine(t *testing.T) {
	needStack(t)
	ctx := context.Background()
	began := time.Now()
	data, err := os.ReadFile("../examples/orders/orders.csv")
	if err != nil {
		t.Fatal(err)
	}
	before := seen(t)
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sluice-input-bucket"), Key: aws.String("incoming/orders/orders.csv"), Body: bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
	execs := finishedWithin(t, before, 1, 60*time.Second)
	if execs[0].Status != sfntypes.ExecutionStatusSucceeded {
		desc, _ := sfnc.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: execs[0].ExecutionArn})
		t.Fatalf("execution %s: %v %v\nlogs:\n%s", execs[0].Status, aws.ToString(desc.Error), aws.ToString(desc.Cause), logs.String())
	}
	t.Logf("orders upload to SUCCEEDED in %s", time.Since(began))
	out, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("sluice-output-bucket")})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	rows := 0
	for _, o := range out.Contents {
		if k := aws.ToString(o.Key); !strings.HasPrefix(k, "tables/orders/") && !strings.HasPrefix(k, "quarantine/orders/") {
			continue // other tests' pipelines
		}
		keys = append(keys, aws.ToString(o.Key))
		if strings.HasPrefix(aws.ToString(o.Key), "tables/orders/dt=") {
			obj, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("sluice-output-bucket"), Key: o.Key})
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			b.ReadFrom(obj.Body)
			obj.Body.Close()
			rows += strings.Count(b.String(), "\n")
		}
	}
	sort.Strings(keys)
	// Three days' parts, the quarantine, and beside the manifest and
	// _SUCCESS the run's column profile.
	if len(keys) != 7 || rows != 10 || !slices.ContainsFunc(keys, func(k string) bool { return strings.HasSuffix(k, "/_profile.json") }) {
		t.Fatalf("output %v with %d rows", keys, rows)
	}
	// The quarantine: twelve rejects with their source positions.
	q := listAll(t, "quarantine/orders/")
	if len(q) != 1 {
		t.Fatalf("quarantine objects %d", len(q))
	}
	obj, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("sluice-output-bucket"), Key: q[0].Key})
	if err != nil {
		t.Fatal(err)
	}
	var rb bytes.Buffer
	rb.ReadFrom(obj.Body)
	obj.Body.Close()
	lines := strings.Split(strings.TrimSpace(rb.String()), "\n")
	if len(lines) != 12 || !strings.Contains(rb.String(), `"source":"incoming/orders/orders.csv","chunk":0,"line":19,"record":17,"offset":1304,"field":"created_at","rule":"type","reason":"not a timestamp in the accepted layouts"`) {
		t.Fatalf("quarantine (%d lines):\n%s", len(lines), rb.String())
	}
	scan, err := ddb.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String("sluice-metrics-table")})
	if err != nil {
		t.Fatal(err)
	}
	var it map[string]ddbtypes.AttributeValue
	for _, item := range scan.Items {
		if p, ok := item["pipeline"].(*ddbtypes.AttributeValueMemberS); ok && p.Value == "orders" {
			if it != nil {
				t.Fatalf("two metrics items for the orders pipeline: %v %v", it, item)
			}
			it = item
		}
	}
	if it == nil {
		t.Fatalf("no metrics item for orders among %d", len(scan.Items))
	}
	n := func(k string) string {
		if v, ok := it[k].(*ddbtypes.AttributeValueMemberN); ok {
			return v.Value
		}
		if v, ok := it[k].(*ddbtypes.AttributeValueMemberS); ok {
			return v.Value
		}
		return "?"
	}
	if n("status") != "succeeded" || n("records_in") != "25" || n("records_out") != "10" || n("records_rejected") != "12" || n("records_filtered") != "3" {
		t.Fatalf("metrics item %v", it)
	}
}

func put(t testing.TB, key string, body []byte) {
	t.Helper()
	if _, err := s3c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("sluice-input-bucket"), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
}

// seen lists the executions that exist now.
func seen(t testing.TB) map[string]bool {
	t.Helper()
	m := map[string]bool{}
	p := sfn.NewListExecutionsPaginator(sfnc, &sfn.ListExecutionsInput{StateMachineArn: aws.String(smArn)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Executions {
			m[aws.ToString(e.ExecutionArn)] = true
		}
	}
	return m
}

// finished waits for n executions not in before to end, and returns them.
func finished(t testing.TB, before map[string]bool, n int) []sfntypes.ExecutionListItem {
	t.Helper()
	return finishedWithin(t, before, n, 180*time.Second)
}

func manifestOf(t *testing.T, runKeyPart string) map[string]any {
	t.Helper()
	ctx := context.Background()
	for _, o := range listAll(t, "tables/") {
		k := aws.ToString(o.Key)
		if strings.HasSuffix(k, "/_manifest.json") && strings.Contains(k, runKeyPart) {
			obj, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("sluice-output-bucket"), Key: o.Key})
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.NewDecoder(obj.Body).Decode(&m); err != nil {
				t.Fatal(err)
			}
			obj.Body.Close()
			return m
		}
	}
	return nil
}

// manifestsFor returns the manifests whose source key is key.
func manifestsFor(t *testing.T, key string) []map[string]any {
	t.Helper()
	var ms []map[string]any
	for _, o := range listAll(t, "tables/") {
		if !strings.HasSuffix(aws.ToString(o.Key), "/_manifest.json") {
			continue
		}
		m := manifestOf(t, strings.TrimSuffix(aws.ToString(o.Key), "/_manifest.json"))
		if src, _ := m["source"].(map[string]any); src != nil && src["key"] == key {
			ms = append(ms, m)
		}
	}
	return ms
}

func listAll(t *testing.T, prefix string) []s3types.Object {
	t.Helper()
	var out []s3types.Object
	p := s3.NewListObjectsV2Paginator(s3c, &s3.ListObjectsV2Input{Bucket: aws.String("sluice-output-bucket"), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page.Contents...)
	}
	return out
}

func counts(m map[string]any) string {
	return fmt.Sprintf("%v/%v/%v/%v %v chunks %v", m["records_in"], m["records_out"], m["records_rejected"], m["records_filtered"], m["status"], m["chunks"])
}

// dataRows counts the rows of one run in the output table.
func dataRows(t *testing.T, runID string) int {
	t.Helper()
	ctx := context.Background()
	p := s3.NewListObjectsV2Paginator(s3c, &s3.ListObjectsV2Input{Bucket: aws.String("sluice-output-bucket"), Prefix: aws.String("tables/")})
	rows := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			if !strings.Contains(aws.ToString(o.Key), "/part-"+runID[:8]+"-") {
				continue
			}
			obj, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("sluice-output-bucket"), Key: o.Key})
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			b.ReadFrom(obj.Body)
			obj.Body.Close()
			rows += strings.Count(b.String(), "\n")
		}
	}
	return rows
}

func TestTenUploadsAtOnce(t *testing.T) {
	needStack(t)
	put(t, "specs/big.yaml", []byte(bigSpec))
	before := seen(t)
	total := 0
	done := make(chan error, 10)
	for u := range 10 {
		var b bytes.Buffer
		b.WriteString("order_id,user_id,email,amount,status,created_at,notes\n")
		for i := range 300 + 50*u {
			fmt.Fprintf(&b, "%d,%d,u%d@example.com,%d.25,paid,2026-10-%02dT08:00:00Z,load test\n", u*100000+i, u, i, i, 1+i%28)
			total++
		}
		go func(u int, body []byte) {
			_, err := s3c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("sluice-input-bucket"),
				Key: aws.String(fmt.Sprintf("incoming/big/load-%02d.csv", u)), Body: bytes.NewReader(body)})
			done <- err
		}(u, b.Bytes())
	}
	for range 10 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	execs := finished(t, before, 10)
	got := 0
	for u, e := range execs {
		if e.Status != sfntypes.ExecutionStatusSucceeded {
			t.Fatalf("execution %d: %s", u, e.Status)
		}
	}
	for u := range 10 {
		ms := manifestsFor(t, fmt.Sprintf("incoming/big/load-%02d.csv", u))
		if len(ms) != 1 {
			t.Fatalf("upload %d: %d manifests", u, len(ms))
		}
		got += dataRows(t, ms[0]["run_id"].(string))
	}
	if got != total {
		t.Fatalf("%d rows out, want %d", got, total)
	}
}

func TestFatalFailureTakesTheCatchPath(t *testing.T) {
	needStack(t)
	put(t, "specs/strict.yaml", []byte(strings.Replace(bigSpec, "name: big", "name: strict\nrejects: {policy: fail}", 1)))
	before := seen(t)
	data, _ := os.ReadFile("../examples/orders/orders.csv")
	put(t, "incoming/strict/orders.csv", data)
	execs := finished(t, before, 1)
	if execs[0].Status != sfntypes.ExecutionStatusFailed {
		t.Fatalf("execution %s, want FAILED", execs[0].Status)
	}
	desc, _ := sfnc.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: execs[0].ExecutionArn})
	if aws.ToString(desc.Error) != "Sluice.ExecutionFailed" {
		t.Fatalf("error %q", aws.ToString(desc.Error))
	}
	// Only the failed run's manifest: no data, no _SUCCESS.
	objs := listAll(t, "tables/strict/")
	if len(objs) != 1 || !strings.HasSuffix(aws.ToString(objs[0].Key), "/_manifest.json") {
		var keys []string
		for _, o := range objs {
			keys = append(keys, aws.ToString(o.Key))
		}
		t.Fatalf("a failed run left output: %v", keys)
	}
	if m := manifestsFor(t, "incoming/strict/orders.csv"); len(m) != 1 || m[0]["status"] != "failed" || !strings.Contains(fmt.Sprint(m[0]["error"]), "rejects.policy is fail") {
		t.Fatalf("failed manifest %v", m)
	}
	scan, err := ddb.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String("sluice-metrics-table")})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, it := range scan.Items {
		src, _ := it["source"].(*ddbtypes.AttributeValueMemberS)
		st, _ := it["status"].(*ddbtypes.AttributeValueMemberS)
		er, _ := it["error"].(*ddbtypes.AttributeValueMemberS)
		if src != nil && strings.HasSuffix(src.Value, "incoming/strict/orders.csv") {
			found = true
			if st.Value != "failed" || er == nil || !strings.Contains(er.Value, "rejects.policy is fail") {
				t.Fatalf("metrics item: status %v error %v", st.Value, aws.ToString(&er.Value))
			}
		}
	}
	if !found {
		t.Fatal("the failed run is not in the metrics table")
	}
}

func TestGzipJSONLines(t *testing.T) {
	needStack(t)
	before := seen(t)
	// The orders as JSON Lines, gzipped: every value a string, as CSV gives them.
	f, err := os.Open("../examples/orders/orders.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var plain bytes.Buffer
	for _, rec := range recs[1:] {
		row := map[string]string{}
		for i, v := range rec {
			row[recs[0][i]] = v
		}
		b, _ := json.Marshal(row)
		plain.Write(append(b, '\n'))
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain.Bytes())
	zw.Close()
	put(t, "incoming/orders/orders-json.jsonl.gz", gz.Bytes())
	execs := finished(t, before, 1)
	if execs[0].Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("execution %s", execs[0].Status)
	}
	ms := manifestsFor(t, "incoming/orders/orders-json.jsonl.gz")
	if len(ms) != 1 || counts(ms[0]) != "25/10/12/3 succeeded chunks 1" || ms[0]["format"] != "jsonl" || ms[0]["compression"] != "gzip" {
		t.Fatalf("manifests %v", ms)
	}
}

// bigSpec is the fan-out pipeline, kept in S3 like a user's spec.
const bigSpec = `
version: 1
name: big
source: {format: csv}
fields:
  - {name: order_id, type: int, required: true}
  - {name: customer_id, from: user_id, type: int}
  - {name: email, rules: {regex: "@"}}
  - {name: amount, type: decimal, scale: 2}
  - {name: status}
  - {name: created_at, type: timestamp}
  - {name: notes}
filter:
  - {name: not_cancelled, expr: status != "cancelled"}
sink:
  format: jsonl
  partition_by: [{key: dt, field: created_at}]
`

func TestRepeatedUploadIsOneLogicalRun(t *testing.T) {
	needStack(t)
	before := seen(t)
	data, err := os.ReadFile("../examples/orders/orders.csv")
	if err != nil {
		t.Fatal(err)
	}
	// The same object twice: two events, two executions, one run id.
	put(t, "incoming/orders/again.csv", data)
	put(t, "incoming/orders/again.csv", data)
	execs := finished(t, before, 2)
	for _, e := range execs {
		if e.Status != sfntypes.ExecutionStatusSucceeded {
			t.Fatalf("execution %s", e.Status)
		}
	}
	ms := manifestsFor(t, "incoming/orders/again.csv")
	if len(ms) != 1 || counts(ms[0]) != "25/10/12/3 succeeded chunks 1" {
		t.Fatalf("manifests %v", ms)
	}
	if rows := dataRows(t, ms[0]["run_id"].(string)); rows != 10 {
		t.Fatalf("%d rows after two deliveries, want 10", rows)
	}
}

// TestInvokeCLI runs `sluice invoke extract --event events/s3-put.json`
// against the running stack: the notification starts one execution, and
// delivering it again starts none.
func TestInvokeCLI(t *testing.T) {
	needStack(t)
	bin := filepath.Join(t.TempDir(), "sluice")
	if err := buildtest.Build("..", bin, "./cmd/sluice"); err != nil {
		t.Fatal(err)
	}
	run := func() map[string][]string {
		cmd := exec.Command(bin, "invoke", "extract", "--event", "events/s3-put.json")
		cmd.Dir = ".."
		cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL="+stack.Endpoint, "AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("invoke: %v\n%s\n%s", err, stdout.String(), stderr.String())
		}
		if !strings.Contains(stderr.String(), "REPORT function sluice-extract-function") {
			t.Fatalf("no REPORT line in the logs:\n%s", stderr.String())
		}
		var out map[string][]string
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(stdout.Bytes(), &raw); err != nil {
			t.Fatalf("response %s: %v", stdout.String(), err)
		}
		out = map[string][]string{}
		for _, k := range []string{"started", "duplicates"} {
			var v []string
			json.Unmarshal(raw[k], &v)
			out[k] = v
		}
		return out
	}
	first := run()
	if len(first["started"]) != 1 || len(first["duplicates"]) != 0 {
		t.Fatalf("first invoke = %v", first)
	}
	// Step Functions answers a StartExecution of a running execution's
	// name and input with that execution, as if started: wait for it to
	// end, so the second delivery meets a name in use.
	execArn := strings.Replace(smArn, ":stateMachine:", ":execution:", 1) + ":" + first["started"][0]
	for deadline := time.Now().Add(2 * time.Minute); ; {
		d, err := sfnc.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(execArn)})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != sfntypes.ExecutionStatusRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("execution %s still running", execArn)
		}
		time.Sleep(200 * time.Millisecond)
	}
	again := run()
	if len(again["started"]) != 0 || len(again["duplicates"]) != 1 || again["duplicates"][0] != first["started"][0] {
		t.Fatalf("second invoke = %v", again)
	}
}

func fault(t *testing.T, body string) string {
	t.Helper()
	resp, err := http.Post(stack.Endpoint+"/_sluice/faults", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("fault: %d %s", resp.StatusCode, b)
	}
	return strings.TrimSpace(string(b))
}

func TestTransientTransformFailureIsRetried(t *testing.T) {
	needStack(t)
	put(t, "specs/big.yaml", []byte(bigSpec))
	for _, kind := range []string{"error", "throttle"} {
		t.Run(kind, func(t *testing.T) {
			fault(t, `{"function":"sluice-transform-function","kind":"`+kind+`","count":1}`)
			before := seen(t)
			key := "incoming/big/transient-" + kind + ".csv"
			put(t, key, []byte("order_id,user_id,email,amount,status,created_at,notes\n1,2,a@b.c,1.50,paid,2026-11-01T00:00:00Z,\n2,2,a@b.c,2.50,paid,2026-11-02T00:00:00Z,\n"))
			execs := finished(t, before, 1)
			if execs[0].Status != sfntypes.ExecutionStatusSucceeded {
				t.Fatalf("execution %s", execs[0].Status)
			}
			if left := fault(t, `{"function":"sluice-transform-function","kind":"error","count":0}`); left != "null" {
				t.Fatalf("the fault was not used: %s", left)
			}
			ms := manifestsFor(t, key)
			if len(ms) != 1 || counts(ms[0]) != "2/2/0/0 succeeded chunks 1" {
				t.Fatalf("manifests %v", ms)
			}
			if rows := dataRows(t, ms[0]["run_id"].(string)); rows != 2 {
				t.Fatalf("%d rows, want 2", rows)
			}
		})
	}
}

// The Distributed Map leaves moto busy for a while after it, so this
// runs last.
func TestBigObjectFansOutThroughTheDistributedMap(t *testing.T) {
	needStack(t)
	put(t, "specs/big.yaml", []byte(bigSpec))
	before := seen(t)
	var b bytes.Buffer
	b.WriteString("order_id,user_id,email,amount,currency,status,country,created_at,notes\n")
	want := 0
	for i := range 6000 {
		status := "paid"
		if i%10 == 0 {
			status = "cancelled"
		} else {
			want++
		}
		fmt.Fprintf(&b, "%d,%d,user%d@example.com,%d.50,USD,%s,US,2026-11-%02dT10:00:00Z,\"note, with \"\"quotes\"\"\nand a line break\"\n", 100000+i, 500+i%50, i, i%900, status, 1+i%28)
	}
	put(t, "incoming/big/big.csv", b.Bytes())
	execs := finished(t, before, 1)
	if execs[0].Status != sfntypes.ExecutionStatusSucceeded {
		desc, _ := sfnc.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: execs[0].ExecutionArn})
		t.Fatalf("execution %s: %s %s", execs[0].Status, aws.ToString(desc.Error), aws.ToString(desc.Cause))
	}
	ms := manifestsFor(t, "incoming/big/big.csv")
	if len(ms) != 1 {
		t.Fatalf("%d manifests", len(ms))
	}
	m := ms[0]
	if got := counts(m); !strings.HasPrefix(got, fmt.Sprintf("6000/%d/0/600 succeeded chunks ", want)) {
		t.Fatalf("counts %s", got)
	}
	if n := m["chunks"].(float64); n <= 4 {
		t.Fatalf("%v chunks: the Distributed Map was not used", n)
	}
	if rows := dataRows(t, m["run_id"].(string)); rows != want {
		t.Fatalf("%d rows in the table, want %d", rows, want)
	}
}
