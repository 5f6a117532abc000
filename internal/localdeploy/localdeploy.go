// Package localdeploy creates a stack's resources on a local AWS endpoint
// (the offline stack or LocalStack) from template.yaml: buckets, tables,
// queues, the functions with their environment, timeout and memory, and
// the state machines with their substitutions filled in. Running it again
// updates what exists.
package localdeploy

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	kinesistypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sluice-etl/sluice/internal/samtemplate"
)

// Clients are the SDK clients deploy uses.
type Clients struct {
	S3     *s3.Client
	DDB    *dynamodb.Client
	SQS    *sqs.Client
	IAM    *iam.Client
	Lambda *lambda.Client
	SFN    *sfn.Client
	// Kinesis is needed only when the template declares streams.
	Kinesis *kinesis.Client
}

// Options configure a deploy.
type Options struct {
	// BootstrapDir holds <function>/bootstrap for each sluice function
	// (make lambdas writes bin/lambda/).
	BootstrapDir string
	// Arch overrides the template's architecture (for a LocalStack host
	// that cannot run arm64).
	Arch string
	Log  io.Writer
}

// RoleName is the execution role created for local functions and state
// machines; local endpoints do not enforce its policies.
const RoleName = "sluice-local-exec"

// Deploy creates or updates every resource the local stack needs.
func Deploy(ctx context.Context, t *samtemplate.Template, c Clients, o Options) error {
	logf := func(format string, args ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, format+"\n", args...)
		}
	}
	role := fmt.Sprintf("arn:aws:iam::%s:role/%s", t.Account, RoleName)
	_, err := c.IAM.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(RoleName),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["lambda.amazonaws.com","states.amazonaws.com"]},"Action":"sts:AssumeRole"}]}`)})
	var exists *iamtypes.EntityAlreadyExistsException
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("create role: %w", err)
	}
	logf("account     %s", t.Account)
	for _, b := range t.Resources("AWS::S3::Bucket") {
		_, err := c.S3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b.Name)})
		var owned *s3types.BucketAlreadyOwnedByYou
		var taken *s3types.BucketAlreadyExists
		if err != nil && !errors.As(err, &owned) && !errors.As(err, &taken) {
			return fmt.Errorf("create bucket %s: %w", b.Name, err)
		}
		logf("bucket      %s", b.Name)
	}
	for _, tb := range t.Tables() {
		in := &dynamodb.CreateTableInput{TableName: aws.String(tb.Name), BillingMode: ddbtypes.BillingModePayPerRequest}
		for _, k := range tb.Keys {
			in.KeySchema = append(in.KeySchema, ddbtypes.KeySchemaElement{AttributeName: aws.String(k[0]), KeyType: ddbtypes.KeyType(k[1])})
		}
		for _, a := range tb.Attributes {
			in.AttributeDefinitions = append(in.AttributeDefinitions, ddbtypes.AttributeDefinition{AttributeName: aws.String(a[0]), AttributeType: ddbtypes.ScalarAttributeType(a[1])})
		}
		_, err := c.DDB.CreateTable(ctx, in)
		var inUse *ddbtypes.ResourceInUseException
		if err != nil && !errors.As(err, &inUse) {
			return fmt.Errorf("create table %s: %w", tb.Name, err)
		}
		if tb.TTL != "" && err == nil {
			if _, err := c.DDB.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String(tb.Name),
				TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{AttributeName: aws.String(tb.TTL), Enabled: aws.Bool(true)}}); err != nil {
				return fmt.Errorf("table %s TTL: %w", tb.Name, err)
			}
		}
		logf("table       %s", tb.Name)
	}
	for _, st := range t.Resources("AWS::Kinesis::Stream") {
		shards := int32(1)
		if v, _ := t.Value(samtemplate.Get(st.Node(), "Properties", "ShardCount")); v != "" {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				shards = int32(n)
			}
		}
		_, err := c.Kinesis.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(st.Name), ShardCount: aws.Int32(shards)})
		var inUse *kinesistypes.ResourceInUseException
		if err != nil && !errors.As(err, &inUse) {
			return fmt.Errorf("create stream %s: %w", st.Name, err)
		}
		logf("stream      %s (%d shards)", st.Name, shards)
	}
	for _, q := range t.Resources("AWS::SQS::Queue") {
		if _, err := c.SQS.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(q.Name)}); err != nil {
			return fmt.Errorf("create queue %s: %w", q.Name, err)
		}
		logf("queue       %s", q.Name)
	}
	fns, err := t.Functions()
	if err != nil {
		return err
	}
	for _, f := range fns {
		if err := deployFunction(ctx, c.Lambda, f, role, o); err != nil {
			return err
		}
		logf("function    %s (%s, %d s, %d MB)", f.Name, f.Sluice, f.Timeout, f.MemorySize)
	}
	sms, err := t.StateMachines()
	if err != nil {
		return err
	}
	for _, sm := range sms {
		arn, _ := t.Arn(sm.ID)
		_, err := c.SFN.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(arn)})
		var missing *sfntypes.StateMachineDoesNotExist
		switch {
		case errors.As(err, &missing):
			_, err = c.SFN.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String(sm.Name), Definition: aws.String(sm.Definition), RoleArn: aws.String(role)})
		case err == nil:
			_, err = c.SFN.UpdateStateMachine(ctx, &sfn.UpdateStateMachineInput{StateMachineArn: aws.String(arn), Definition: aws.String(sm.Definition)})
		}
		if err != nil {
			return fmt.Errorf("state machine %s: %w", sm.Name, err)
		}
		logf("statemachine %s", arn)
	}
	return nil
}

func deployFunction(ctx context.Context, api *lambda.Client, f samtemplate.Function, role string, o Options) error {
	path := filepath.Join(o.BootstrapDir, f.Sluice, "bootstrap")
	zipped, err := zipBootstrap(path)
	if err != nil {
		return fmt.Errorf("function %s: %w (run make lambdas)", f.Name, err)
	}
	arch := f.Arch
	if o.Arch != "" {
		arch = o.Arch
	}
	env := &lambdatypes.Environment{Variables: f.Env}
	_, err = api.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(f.Name)})
	var missing *lambdatypes.ResourceNotFoundException
	if errors.As(err, &missing) {
		_, err = api.CreateFunction(ctx, &lambda.CreateFunctionInput{
			FunctionName: aws.String(f.Name), Role: aws.String(role), Runtime: lambdatypes.Runtime(f.Runtime), Handler: aws.String("bootstrap"),
			Architectures: []lambdatypes.Architecture{lambdatypes.Architecture(arch)}, Code: &lambdatypes.FunctionCode{ZipFile: zipped},
			Timeout: aws.Int32(int32(f.Timeout)), MemorySize: aws.Int32(int32(f.MemorySize)), Environment: env,
		})
		if err != nil {
			return fmt.Errorf("create function %s: %w", f.Name, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("get function %s: %w", f.Name, err)
	}
	if _, err := api.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String(f.Name), ZipFile: zipped}); err != nil {
		return fmt.Errorf("update function %s: %w", f.Name, err)
	}
	if _, err := api.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(f.Name),
		Timeout: aws.Int32(int32(f.Timeout)), MemorySize: aws.Int32(int32(f.MemorySize)), Environment: env}); err != nil {
		return fmt.Errorf("configure function %s: %w", f.Name, err)
	}
	return nil
}

// zipBootstrap packs the binary as Lambda expects: bootstrap at the root,
// executable.
func zipBootstrap(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	// Stored, not deflated: local endpoints keep it in memory, and
	// compressing three 20+ MB binaries would be most of the deploy time.
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Store, Modified: time.Unix(0, 0).UTC()}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
