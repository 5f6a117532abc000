package localdeploy_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sluice-etl/sluice/internal/buildtest"
	"github.com/sluice-etl/sluice/internal/motoserver"
)

// TestReadyHookOnMoto runs localstack/ready.d/10-deploy-sluice.sh, the
// script LocalStack runs, against moto_server, twice, and checks what it
// created against template.yaml.
func TestReadyHookOnMoto(t *testing.T) {
	srv, err := motoserver.Start(context.Background())
	motoserver.Need(t, err)
	defer srv.Stop()
	repo, _ := filepath.Abs("../..")
	// A repository view with freshly built binaries, as `make build lambdas` leaves it.
	view := t.TempDir()
	for _, p := range []string{"template.yaml", "statemachine"} {
		if err := os.Symlink(filepath.Join(repo, p), filepath.Join(view, p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := buildtest.Build(repo, filepath.Join(view, "bin/sluice"), "./cmd/sluice"); err != nil {
		t.Fatal(err)
	}
	if err := buildtest.Bootstraps(repo, filepath.Join(view, "bin/lambda")); err != nil {
		t.Fatal(err)
	}
	for run := range 2 { // the second run updates what the first created
		cmd := exec.Command("bash", filepath.Join(repo, "localstack/ready.d/10-deploy-sluice.sh"))
		cmd.Env = append(os.Environ(), "SLUICE_REPO="+view, "AWS_ENDPOINT_URL="+srv.Endpoint, "SLUICE_LAMBDA_ARCH=x86_64")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("run %d: %v\n%s", run, err, out)
		}
		if !strings.Contains(string(out), "statemachine arn:aws:states:us-east-1:123456789012:stateMachine:sluice-etl-state-machine") {
			t.Fatalf("run %d output:\n%s", run, out)
		}
	}

	for k, v := range srv.Env() {
		t.Setenv(k, v)
	}
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	buckets, err := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range buckets.Buckets {
		names = append(names, *b.Name)
	}
	sort.Strings(names)
	if strings.Join(names, " ") != "sluice-input-bucket sluice-output-bucket sluice-staging-bucket" {
		t.Fatalf("buckets = %v", names)
	}
	tables, err := dynamodb.NewFromConfig(cfg).ListTables(ctx, &dynamodb.ListTablesInput{})
	if err == nil {
		sort.Strings(tables.TableNames)
	}
	if err != nil || strings.Join(tables.TableNames, " ") != "sluice-idempotency-table sluice-metrics-table sluice-window-state-table" {
		t.Fatalf("tables = %v %v", tables.TableNames, err)
	}
	if q, err := sqs.NewFromConfig(cfg).GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("sluice-dead-letter-queue")}); err != nil || q.QueueUrl == nil {
		t.Fatalf("queue: %v", err)
	}
	fn, err := lambda.NewFromConfig(cfg).GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("sluice-load-function")})
	if err != nil {
		t.Fatal(err)
	}
	c := fn.Configuration
	if *c.Timeout != 900 || *c.MemorySize != 512 || c.Environment.Variables["SLUICE_METRICS_TABLE"] != "sluice-metrics-table" || c.Environment.Variables["SLUICE_OUTPUT_PREFIX"] != "tables" {
		t.Fatalf("load function = timeout %d memory %d env %v", *c.Timeout, *c.MemorySize, c.Environment.Variables)
	}
	sm, err := sfn.NewFromConfig(cfg).DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{
		StateMachineArn: aws.String("arn:aws:states:us-east-1:123456789012:stateMachine:sluice-etl-state-machine")})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(*sm.Definition, "${") || !strings.Contains(*sm.Definition, "function:sluice-extract-function") {
		t.Fatalf("definition not substituted")
	}
}
