// Package localdeploy creates a stack's resources on a local AWS endpoint
// (the offline stack or LocalStack) from template.yaml: buckets, tables,
// Glue databases, queues, the functions with their environment, timeout and memory, and
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
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gluetypes "github.com/aws/aws-sdk-go-v2/service/glue/types"
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
	"github.com/aws/aws-sdk-go-v2/service/sts"

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
	// Glue is needed only when the template declares databases.
	Glue *glue.Client
}

// NewClients makes every client from one configuration; S3 uses path-style
// addressing, as local endpoints need.
func NewClients(cfg aws.Config) Clients {
	return Clients{
		S3:      s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }),
		DDB:     dynamodb.NewFromConfig(cfg),
		SQS:     sqs.NewFromConfig(cfg),
		IAM:     iam.NewFromConfig(cfg),
		Lambda:  lambda.NewFromConfig(cfg),
		SFN:     sfn.NewFromConfig(cfg),
		Kinesis: kinesis.NewFromConfig(cfg),
		Glue:    glue.NewFromConfig(cfg),
	}
}

// Account asks the endpoint which account it serves: the account that
// goes into every ARN the template resolves.
func Account(ctx context.Context, cfg aws.Config) (string, error) {
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", err
	}
	return aws.ToString(id.Account), nil
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
	d := &deployer{t: t, c: c, o: o, role: fmt.Sprintf("arn:aws:iam::%s:role/%s", t.Account, RoleName)}
	for _, step := range []func(context.Context) error{
		d.createRole, d.createBuckets, d.createTables, d.createDatabases, d.createStreams, d.createQueues, d.deployFunctions, d.deployStateMachines,
	} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return nil
}

// deployer is one deploy: each step creates one kind of resource, or
// updates what exists.
type deployer struct {
	t    *samtemplate.Template
	c    Clients
	o    Options
	role string // the execution role's ARN
}

func (d *deployer) logf(format string, args ...any) {
	if d.o.Log != nil {
		fmt.Fprintf(d.o.Log, format+"\n", args...)
	}
}

func (d *deployer) createRole(ctx context.Context) error {
	_, err := d.c.IAM.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(RoleName),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["lambda.amazonaws.com","states.amazonaws.com"]},"Action":"sts:AssumeRole"}]}`)})
	var exists *iamtypes.EntityAlreadyExistsException
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("create role: %w", err)
	}
	d.logf("account     %s", d.t.Account)
	return nil
}

func (d *deployer) createBuckets(ctx context.Context) error {
	for _, b := range d.t.Resources("AWS::S3::Bucket") {
		_, err := d.c.S3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b.Name)})
		var owned *s3types.BucketAlreadyOwnedByYou
		var taken *s3types.BucketAlreadyExists
		if err != nil && !errors.As(err, &owned) && !errors.As(err, &taken) {
			return fmt.Errorf("create bucket %s: %w", b.Name, err)
		}
		d.logf("bucket      %s", b.Name)
	}
	return nil
}

// createDatabases creates the Glue databases; one that exists is left
// as it is.
func (d *deployer) createDatabases(ctx context.Context) error {
	for _, db := range d.t.Resources("AWS::Glue::Database") {
		_, err := d.c.Glue.CreateDatabase(ctx, &glue.CreateDatabaseInput{DatabaseInput: &gluetypes.DatabaseInput{Name: aws.String(db.Name)}})
		var exists *gluetypes.AlreadyExistsException
		if err != nil && !errors.As(err, &exists) {
			return fmt.Errorf("create glue database %s: %w", db.Name, err)
		}
		d.logf("database    %s", db.Name)
	}
	return nil
}

func (d *deployer) createTables(ctx context.Context) error {
	for _, tb := range d.t.Tables() {
		if err := d.createTable(ctx, tb); err != nil {
			return err
		}
		d.logf("table       %s", tb.Name)
	}
	return nil
}

// createTable creates a pay-per-request table, with its TTL attribute
// when it has one; a table that exists is left as it is.
func (d *deployer) createTable(ctx context.Context, tb samtemplate.Table) error {
	in := &dynamodb.CreateTableInput{TableName: aws.String(tb.Name), BillingMode: ddbtypes.BillingModePayPerRequest}
	for _, k := range tb.Keys {
		in.KeySchema = append(in.KeySchema, ddbtypes.KeySchemaElement{AttributeName: aws.String(k[0]), KeyType: ddbtypes.KeyType(k[1])})
	}
	for _, a := range tb.Attributes {
		in.AttributeDefinitions = append(in.AttributeDefinitions, ddbtypes.AttributeDefinition{AttributeName: aws.String(a[0]), AttributeType: ddbtypes.ScalarAttributeType(a[1])})
	}
	_, err := d.c.DDB.CreateTable(ctx, in)
	var inUse *ddbtypes.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create table %s: %w", tb.Name, err)
	}
	if tb.TTL == "" || err != nil {
		return nil
	}
	if _, err := d.c.DDB.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String(tb.Name),
		TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{AttributeName: aws.String(tb.TTL), Enabled: aws.Bool(true)}}); err != nil {
		return fmt.Errorf("table %s TTL: %w", tb.Name, err)
	}
	return nil
}

func (d *deployer) createStreams(ctx context.Context) error {
	for _, st := range d.t.Resources("AWS::Kinesis::Stream") {
		shards := d.shardCount(st)
		_, err := d.c.Kinesis.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(st.Name), ShardCount: aws.Int32(shards)})
		var inUse *kinesistypes.ResourceInUseException
		if err != nil && !errors.As(err, &inUse) {
			return fmt.Errorf("create stream %s: %w", st.Name, err)
		}
		d.logf("stream      %s (%d shards)", st.Name, shards)
	}
	return nil
}

// shardCount is a stream's ShardCount, 1 when it sets none.
func (d *deployer) shardCount(st samtemplate.Resource) int32 {
	v, _ := d.t.Value(samtemplate.Get(st.Node(), "Properties", "ShardCount"))
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return int32(n)
	}
	return 1
}

func (d *deployer) createQueues(ctx context.Context) error {
	for _, q := range d.t.Resources("AWS::SQS::Queue") {
		if _, err := d.c.SQS.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(q.Name)}); err != nil {
			return fmt.Errorf("create queue %s: %w", q.Name, err)
		}
		d.logf("queue       %s", q.Name)
	}
	return nil
}

func (d *deployer) deployFunctions(ctx context.Context) error {
	fns, err := d.t.Functions()
	if err != nil {
		return err
	}
	for _, f := range fns {
		if err := d.deployFunction(ctx, f); err != nil {
			return err
		}
		d.logf("function    %s (%s, %d s, %d MB)", f.Name, f.Sluice, f.Timeout, f.MemorySize)
	}
	return nil
}

func (d *deployer) deployFunction(ctx context.Context, f samtemplate.Function) error {
	api := d.c.Lambda
	zipped, err := zipBootstrap(filepath.Join(d.o.BootstrapDir, f.Sluice, "bootstrap"))
	if err != nil {
		return fmt.Errorf("function %s: %w (run make lambdas)", f.Name, err)
	}
	arch := f.Arch
	if d.o.Arch != "" {
		arch = d.o.Arch
	}
	env := &lambdatypes.Environment{Variables: f.Env}
	_, err = api.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(f.Name)})
	var missing *lambdatypes.ResourceNotFoundException
	if errors.As(err, &missing) {
		_, err = api.CreateFunction(ctx, &lambda.CreateFunctionInput{
			FunctionName: aws.String(f.Name), Role: aws.String(d.role), Runtime: lambdatypes.Runtime(f.Runtime), Handler: aws.String("bootstrap"),
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

func (d *deployer) deployStateMachines(ctx context.Context) error {
	sms, err := d.t.StateMachines()
	if err != nil {
		return err
	}
	for _, sm := range sms {
		arn, _ := d.t.Arn(sm.ID)
		if err := d.deployStateMachine(ctx, sm, arn); err != nil {
			return fmt.Errorf("state machine %s: %w", sm.Name, err)
		}
		d.logf("statemachine %s", arn)
	}
	return nil
}

// deployStateMachine creates the machine, or updates its definition.
func (d *deployer) deployStateMachine(ctx context.Context, sm samtemplate.StateMachine, arn string) error {
	_, err := d.c.SFN.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(arn)})
	var missing *sfntypes.StateMachineDoesNotExist
	switch {
	case errors.As(err, &missing):
		_, err = d.c.SFN.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String(sm.Name), Definition: aws.String(sm.Definition), RoleArn: aws.String(d.role)})
	case err == nil:
		_, err = d.c.SFN.UpdateStateMachine(ctx, &sfn.UpdateStateMachineInput{StateMachineArn: aws.String(arn), Definition: aws.String(sm.Definition)})
	}
	return err
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
