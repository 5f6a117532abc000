package offline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/sluice-etl/sluice/internal/localdeploy"
	"github.com/sluice-etl/sluice/internal/motoserver"
	"github.com/sluice-etl/sluice/internal/samtemplate"
)

// Options configure the offline stack.
type Options struct {
	// Addr is the front endpoint (default 127.0.0.1:4566).
	Addr string
	// Repo is the repository root: template.yaml, bin/lambda and
	// localstack/offline/moto_launcher.py are found under it.
	Repo  string
	Stack string
	// Params override template parameter defaults.
	Params map[string]string
	// Concurrency bounds Lambda invocations in flight (default 10).
	Concurrency int
	Log         *slog.Logger
	// FunctionLogs receives the functions' output.
	FunctionLogs io.Writer
	// Chaos, when set, is the fault plan from the start (tests usually
	// post one to /_sluice/chaos instead).
	Chaos *Chaos
}

// Stack is a running offline stack.
type Stack struct {
	Endpoint string
	Lambda   *Lambda
	Template *samtemplate.Template

	moto     *exec.Cmd
	motoDone chan struct{}
	srv      *http.Server
	cancel   context.CancelFunc
	glueDone chan struct{}
	mappings sync.WaitGroup
	log      *slog.Logger
	chaos    *chaos
}

// S3EventQueue is the queue the input bucket notifies; the glue turns its
// messages into EventBridge-shaped executions of the state machine.
const S3EventQueue = "sluice-local-s3-events"

// Up starts moto (through the launcher), the front server, deploys the
// template, wires S3 notifications and starts the glue.
func Up(ctx context.Context, o Options) (*Stack, error) {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:4566"
	}
	if o.Stack == "" {
		o.Stack = "sluice"
	}
	if o.Concurrency == 0 {
		o.Concurrency = 10
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", o.Addr, err)
	}
	endpoint := "http://" + ln.Addr().String()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	motoPort, err := motoserver.FreePort()
	if err != nil {
		ln.Close()
		return nil, err
	}
	s := &Stack{Endpoint: endpoint, log: o.Log, motoDone: make(chan struct{})}
	// moto's Step Functions interpreter calls services (Lambda included)
	// at localhost:$MOTO_PORT: the front port, so Tasks reach our Lambda.
	s.moto = exec.Command("python3", o.Repo+"/localstack/offline/moto_launcher.py", "-H", "127.0.0.1", "-p", strconv.Itoa(motoPort))
	s.moto.Env = append(os.Environ(), "MOTO_PORT="+port)
	s.moto.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.moto.Start(); err != nil {
		ln.Close()
		return nil, fmt.Errorf("start moto: %w", err)
	}
	go func() { s.moto.Wait(); close(s.motoDone) }()
	motoURL, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", motoPort))
	if err := waitHTTP(ctx, motoURL.String()+"/moto-api/"); err != nil {
		s.Down()
		ln.Close()
		return nil, err
	}
	if err := postJSON(motoURL.String()+"/moto-api/config", `{"stepfunctions":{"execute_state_machine":true}}`); err != nil {
		s.Down()
		ln.Close()
		return nil, fmt.Errorf("enable Step Functions execution: %w", err)
	}

	t, err := samtemplate.Load(o.Repo+"/template.yaml", o.Stack, o.Params)
	if err != nil {
		s.Down()
		ln.Close()
		return nil, err
	}
	s.Template = t
	l, err := NewLambda(t, o.Repo+"/bin/lambda", endpoint, o.Concurrency)
	if err != nil {
		s.Down()
		ln.Close()
		return nil, err
	}
	l.Logs = o.FunctionLogs
	s.Lambda = l
	s.chaos = &chaos{}
	if err := s.chaos.set(o.Chaos); err != nil {
		s.Down()
		ln.Close()
		return nil, err
	}
	l.chaos = s.chaos
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2015-03-31/functions/{name}/invocations", l.ServeInvoke)
	mux.HandleFunc("/_sluice/faults", l.ServeFaults)
	mux.Handle("/_sluice/chaos", s.chaos)
	mux.Handle("/", s.chaos.wrap(httputil.NewSingleHostReverseProxy(motoURL)))
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 30 * time.Second}
	go s.srv.Serve(ln)

	cfg, err := config.LoadDefaultConfig(ctx, config.WithBaseEndpoint(endpoint), config.WithRegion(samtemplate.Region),
		config.WithCredentialsProvider(staticCreds{}))
	if err != nil {
		s.Down()
		return nil, err
	}
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		s.Down()
		return nil, err
	}
	t.Account = *id.Account
	for _, f := range l.funcs { // ARNs now carry the endpoint's account
		for _, fn := range mustFunctions(t) {
			if fn.Name == f.Name {
				f.Arn, _ = t.Arn(fn.ID)
			}
		}
	}
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	sqsc := sqs.NewFromConfig(cfg)
	kc := kinesis.NewFromConfig(cfg)
	c := localdeploy.Clients{S3: s3c, DDB: dynamodb.NewFromConfig(cfg), SQS: sqsc, IAM: iam.NewFromConfig(cfg), Lambda: lambda.NewFromConfig(cfg), SFN: sfn.NewFromConfig(cfg), Kinesis: kc}
	var deployLog bytes.Buffer
	if err := localdeploy.Deploy(ctx, t, c, localdeploy.Options{BootstrapDir: o.Repo + "/bin/lambda", Arch: "x86_64", Log: &deployLog}); err != nil {
		s.Down()
		return nil, fmt.Errorf("deploy: %w\n%s", err, deployLog.String())
	}
	o.Log.Info("deployed", "resources", deployLog.String())
	glueCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	if err := s.startGlue(glueCtx, t, s3c, sqsc, sfn.NewFromConfig(cfg)); err != nil {
		s.Down()
		return nil, err
	}
	if err := s.startMappings(glueCtx, t, kc, sqsc); err != nil {
		s.Down()
		return nil, err
	}
	return s, nil
}

func mustFunctions(t *samtemplate.Template) []samtemplate.Function {
	f, _ := t.Functions()
	return f
}

type staticCreds struct{}

func (staticCreds) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: "testing", SecretAccessKey: "testing", Source: "sluice-offline"}, nil
}

// startMappings runs a Kinesis event source mapping for every Kinesis
// event of the template's functions.
func (s *Stack) startMappings(ctx context.Context, t *samtemplate.Template, kc *kinesis.Client, sqsc *sqs.Client) error {
	evs, err := t.KinesisEvents()
	if err != nil {
		return err
	}
	for _, ev := range evs {
		f, ok := s.Lambda.Function(ev.Function)
		if !ok {
			return fmt.Errorf("kinesis event of unknown function %s", ev.Function)
		}
		e := &ESM{
			M: Mapping{Function: f.Arn, Stream: ev.Stream, StreamArn: ev.StreamArn, BatchSize: ev.BatchSize,
				MaxBatchingWindow: time.Duration(ev.MaxBatchingWindow) * time.Second, StartingPosition: ev.StartingPosition,
				TumblingWindow: time.Duration(ev.TumblingWindow) * time.Second, ReportBatchItemFailures: ev.ReportBatchItemFailures,
				Bisect: ev.Bisect, MaxRetryAttempts: ev.MaxRetryAttempts, OnFailure: ev.OnFailure},
			Kinesis: kc, SQS: sqsc, Log: s.log,
			QueueURL: func(arn string) string {
				out, err := sqsc.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(arn[strings.LastIndex(arn, ":")+1:])})
				if err != nil {
					return ""
				}
				return aws.ToString(out.QueueUrl)
			},
			Invoke: func(ctx context.Context, payload []byte) (*Result, error) { return s.Lambda.Invoke(ctx, f, payload) },
			Duplicate: func() bool {
				return s.chaos.roll(func(p *Chaos) float64 { return p.DuplicateKinesis }, FaultDuplicateBatch)
			},
		}
		s.mappings.Add(1)
		go func() {
			defer s.mappings.Done()
			if err := e.Run(ctx); err != nil {
				s.log.Warn("event source mapping", "stream", ev.Stream, "err", err)
			}
		}()
	}
	return nil
}

// Down stops the glue, the server, the functions and moto.
func (s *Stack) Down() {
	if s.cancel != nil {
		s.cancel()
		<-s.glueDone
		s.mappings.Wait()
	}
	if s.srv != nil {
		s.srv.Close()
	}
	if s.Lambda != nil {
		s.Lambda.Close()
	}
	if s.moto != nil && s.moto.Process != nil {
		syscall.Kill(-s.moto.Process.Pid, syscall.SIGTERM)
		select {
		case <-s.motoDone:
		case <-time.After(5 * time.Second):
			syscall.Kill(-s.moto.Process.Pid, syscall.SIGKILL)
			<-s.motoDone
		}
	}
}

// startGlue wires the input bucket's ObjectCreated notifications (under
// the EventBridge rule's prefix) to a queue, and turns each message into
// an execution whose input is the EventBridge "Object Created" event AWS
// would deliver.
func (s *Stack) startGlue(ctx context.Context, t *samtemplate.Template, s3c *s3.Client, sqsc *sqs.Client, sfnc *sfn.Client) error {
	s.glueDone = make(chan struct{})
	sms := t.Resources("AWS::Serverless::StateMachine")
	type route struct{ arn, bucket, prefix string }
	var routes []route
	for _, sm := range sms {
		bucketID, prefix, ok := t.EventPrefix(sm)
		if !ok {
			continue
		}
		arn, _ := t.Arn(sm.ID)
		routes = append(routes, route{arn: arn, bucket: t.PhysicalName(bucketID), prefix: prefix})
	}
	q, err := sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(S3EventQueue)})
	if err != nil {
		close(s.glueDone)
		return fmt.Errorf("glue queue: %w", err)
	}
	qarn := fmt.Sprintf("arn:aws:sqs:%s:%s:%s", samtemplate.Region, t.Account, S3EventQueue)
	for _, r := range routes {
		_, err := s3c.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{
			Bucket: aws.String(r.bucket),
			NotificationConfiguration: &s3types.NotificationConfiguration{QueueConfigurations: []s3types.QueueConfiguration{{
				QueueArn: aws.String(qarn), Events: []s3types.Event{"s3:ObjectCreated:*"},
				Filter: &s3types.NotificationConfigurationFilter{Key: &s3types.S3KeyFilter{FilterRules: []s3types.FilterRule{{Name: s3types.FilterRuleNamePrefix, Value: aws.String(r.prefix)}}}},
			}}},
		})
		if err != nil {
			close(s.glueDone)
			return fmt.Errorf("notification on %s: %w", r.bucket, err)
		}
	}
	go func() {
		defer close(s.glueDone)
		for ctx.Err() == nil {
			out, err := sqsc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("glue receive", "err", err)
					time.Sleep(200 * time.Millisecond)
				}
				continue
			}
			for _, m := range out.Messages {
				s.log.Debug("glue message", "bytes", len(aws.ToString(m.Body)))
				var ev s3Notification
				if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &ev); err != nil {
					s.log.Warn("glue: not an S3 notification", "err", err)
				} else {
					for i, rec := range ev.Records {
						key, err := url.QueryUnescape(rec.S3.Object.Key)
						if err != nil || !strings.HasPrefix(rec.EventName, "ObjectCreated") {
							continue
						}
						rec.S3.Object.Key = key
						for _, r := range routes {
							if rec.S3.Bucket.Name != r.bucket || !strings.HasPrefix(key, r.prefix) {
								continue
							}
							input := eventBridgeEvent(t.Account, rec)
							h := sha256.Sum256([]byte(fmt.Sprintf("%s/%d", aws.ToString(m.MessageId), i)))
							name := "eb-" + hex.EncodeToString(h[:])[:32]
							names := []string{name}
							if s.chaos.roll(func(p *Chaos) float64 { return p.DuplicateS3 }, FaultDuplicateS3) {
								names = append(names, name[:len(name)-4]+"dup0") // the same event again
							}
							for _, name := range names {
								if _, err := sfnc.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(r.arn), Name: aws.String(name), Input: aws.String(input)}); err != nil {
									s.log.Warn("glue start execution", "err", err)
								} else {
									s.log.Info("execution started", "name", name, "key", key)
								}
							}
						}
					}
				}
				sqsc.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: q.QueueUrl, ReceiptHandle: m.ReceiptHandle})
			}
		}
	}()
	return nil
}

// s3Notification is the part of an S3 event notification the glue reads.
// (moto writes eventTime without a zone, which events.S3Event refuses.)
type s3Notification struct {
	Records []s3Record `json:"Records"`
}

type s3Record struct {
	EventName string `json:"eventName"`
	S3        struct {
		Bucket struct {
			Name string `json:"name"`
		} `json:"bucket"`
		Object struct {
			Key       string `json:"key"`
			Size      int64  `json:"size"`
			ETag      string `json:"eTag"`
			VersionID string `json:"versionId"`
			Sequencer string `json:"sequencer"`
		} `json:"object"`
	} `json:"s3"`
}

// eventBridgeEvent renders an S3 notification record as the EventBridge
// "Object Created" event (keys are not URL-encoded there).
func eventBridgeEvent(account string, r s3Record) string {
	ev := map[string]any{
		"version": "0", "id": newID(), "detail-type": "Object Created", "source": "aws.s3", "account": account,
		"time": time.Now().UTC().Format(time.RFC3339), "region": samtemplate.Region,
		"resources": []string{"arn:aws:s3:::" + r.S3.Bucket.Name},
		"detail": map[string]any{
			"version": "0", "bucket": map[string]string{"name": r.S3.Bucket.Name},
			"object": map[string]any{"key": r.S3.Object.Key, "size": r.S3.Object.Size, "etag": r.S3.Object.ETag,
				"version-id": r.S3.Object.VersionID, "sequencer": r.S3.Object.Sequencer},
			"reason": "PutObject",
		},
	}
	b, _ := json.Marshal(ev)
	return string(b)
}

func waitHTTP(ctx context.Context, u string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready: %w", u, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func postJSON(u, body string) error {
	resp, err := http.Post(u, "application/json", bytes.NewBufferString(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(resp.Body)
		return errors.New(resp.Status + ": " + string(b))
	}
	return nil
}
