// Package e2e runs the real bootstrap binaries through the real state
// machine on the offline stack (moto plus sluice's local Lambda service),
// from an upload to the output, the rejects and the metrics table.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/sluice-etl/sluice/internal/motoserver"
	"github.com/sluice-etl/sluice/internal/offline"
)

var (
	stack *offline.Stack
	upErr error
	s3c   *s3.Client
	sfnc  *sfn.Client
	ddb   *dynamodb.Client
	logs  bytes.Buffer
	smArn string
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
		for _, fn := range []string{"extract", "transform", "load"} {
			cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", filepath.Join(view, "bin/lambda", fn, "bootstrap"), "./functions/"+fn)
			cmd.Dir = repo
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "build %s: %v\n%s", fn, err, out)
				return 1
			}
		}
		if _, err := exec.LookPath("moto_server"); err != nil {
			upErr = motoserver.ErrUnavailable
			return m.Run()
		}
		ctx := context.Background()
		o := offline.Options{Addr: "127.0.0.1:0", Repo: view, FunctionLogs: &logs}
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
			s3c = s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
			sfnc = sfn.NewFromConfig(cfg)
			ddb = dynamodb.NewFromConfig(cfg)
			smArn, _ = stack.Template.Arn("EtlStateMachine")
		}
		return m.Run()
	}()
	os.Exit(code)
}

func needStack(t *testing.T) {
	t.Helper()
	if upErr != nil {
		if motoserver.Required() {
			t.Fatalf("offline stack: %v", upErr)
		}
		t.Skipf("offline stack: %v", upErr)
	}
}

// waitExecutions waits until n executions have ended and returns them.
func waitExecutions(t *testing.T, n int, timeout time.Duration) []sfntypes.ExecutionListItem {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out, err := sfnc.ListExecutions(context.Background(), &sfn.ListExecutionsInput{StateMachineArn: aws.String(smArn)})
		if err != nil {
			t.Fatal(err)
		}
		done := 0
		for _, e := range out.Executions {
			if e.Status != sfntypes.ExecutionStatusRunning {
				done++
			}
		}
		if done >= n {
			return out.Executions
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d executions ended after %s (%d started); function logs:\n%s", done, n, timeout, len(out.Executions), logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestOrdersUploadRunsThroughTheStateMachine(t *testing.T) {
	needStack(t)
	ctx := context.Background()
	began := time.Now()
	data, err := os.ReadFile("../examples/orders/orders.csv")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sluice-input-bucket"), Key: aws.String("incoming/orders/orders.csv"), Body: bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
	execs := waitExecutions(t, 1, 60*time.Second)
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
	if len(keys) != 6 || rows != 10 {
		t.Fatalf("output %v with %d rows", keys, rows)
	}
	scan, err := ddb.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String("sluice-metrics-table")})
	if err != nil {
		t.Fatal(err)
	}
	if len(scan.Items) != 1 {
		t.Fatalf("%d metrics items", len(scan.Items))
	}
	it := scan.Items[0]
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
