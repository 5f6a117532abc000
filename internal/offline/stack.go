package offline

import (
	"bytes"
	"context"
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
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

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
	// Ticks drives the template's Schedule events (default: real
	// tickers at each schedule's rate). Tests that invoke the schedules'
	// payloads themselves pass NoTicks.
	Ticks Ticks
}

// NoTicks is Ticks that never fire: the schedules stay idle.
func NoTicks(time.Duration) (<-chan time.Time, func()) { return nil, func() {} }

// Stack is a running offline stack.
type Stack struct {
	Endpoint string
	Lambda   *Lambda
	Template *samtemplate.Template

	// closers stop what has started, in the order it started.
	closers []func()
	// background runs the glue and the event source mappings.
	background sync.WaitGroup
	log        *slog.Logger
	chaos      *chaos
}

// S3EventQueue is the queue the input bucket notifies; the glue turns its
// messages into EventBridge-shaped executions of the state machine.
const S3EventQueue = "sluice-local-s3-events"

// Up starts moto (through the launcher), the front server, deploys the
// template, wires S3 notifications and starts the glue. On failure it
// stops what it had started.
func Up(ctx context.Context, o Options) (*Stack, error) {
	o.setDefaults()
	s := &Stack{log: o.Log, chaos: &chaos{}}
	if err := s.up(ctx, o); err != nil {
		s.Down()
		return nil, err
	}
	return s, nil
}

func (o *Options) setDefaults() {
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
}

// up starts each part in turn; each registers how it stops.
func (s *Stack) up(ctx context.Context, o Options) error {
	ln, err := s.listen(o.Addr)
	if err != nil {
		return err
	}
	_, frontPort, _ := net.SplitHostPort(ln.Addr().String())
	motoURL, err := s.startMoto(ctx, o.Repo, frontPort)
	if err != nil {
		return err
	}
	if err := s.loadFunctions(o); err != nil {
		return err
	}
	s.serve(ln, motoURL)
	c, err := s.deploy(ctx, o.Repo)
	if err != nil {
		return err
	}
	ticks := o.Ticks
	if ticks == nil {
		ticks = realTicks
	}
	return s.startEventSources(c, ticks)
}

// onDown registers how to stop what has just started.
func (s *Stack) onDown(stop func()) { s.closers = append(s.closers, stop) }

// Down stops the glue, the server, the functions and moto: what started
// last stops first.
func (s *Stack) Down() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

// listen opens the front endpoint.
func (s *Stack) listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	s.onDown(func() { ln.Close() })
	s.Endpoint = "http://" + ln.Addr().String()
	return ln, nil
}

// startMoto runs moto through the launcher on a free port, waits until it
// answers, and turns on its Step Functions executions. moto's Step
// Functions interpreter calls services (Lambda included) at
// localhost:$MOTO_PORT: that is frontPort, so Tasks reach our Lambda.
func (s *Stack) startMoto(ctx context.Context, repo, frontPort string) (*url.URL, error) {
	port, err := motoserver.FreePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("python3", repo+"/localstack/offline/moto_launcher.py", "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Env = append(os.Environ(), "MOTO_PORT="+frontPort)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start moto: %w", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.onDown(func() { stopGroup(cmd.Process.Pid, done) })
	motoURL, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", port))
	if err := waitHTTP(ctx, motoURL.String()+"/moto-api/"); err != nil {
		return nil, err
	}
	if err := postJSON(motoURL.String()+"/moto-api/config", `{"stepfunctions":{"execute_state_machine":true}}`); err != nil {
		return nil, fmt.Errorf("enable Step Functions execution: %w", err)
	}
	return motoURL, nil
}

// stopGroup ends a process group: SIGTERM, then SIGKILL after 5 s.
// done is closed when its leader has been waited for.
func stopGroup(pid int, done <-chan struct{}) {
	syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		syscall.Kill(-pid, syscall.SIGKILL)
		<-done
	}
}

// loadFunctions loads the template and its functions, which run the
// bootstraps of bin/lambda under the stack's chaos plan.
func (s *Stack) loadFunctions(o Options) error {
	if err := s.chaos.set(o.Chaos); err != nil {
		return err
	}
	t, err := samtemplate.Load(o.Repo+"/template.yaml", o.Stack, o.Params)
	if err != nil {
		return err
	}
	l, err := NewLambda(t, func(lo *LambdaOptions) {
		lo.BootstrapDir, lo.Endpoint, lo.Concurrency, lo.Logs = o.Repo+"/bin/lambda", s.Endpoint, o.Concurrency, o.FunctionLogs
		lo.chaos = s.chaos
	})
	if err != nil {
		return err
	}
	s.onDown(l.Close)
	s.Template, s.Lambda = t, l
	return nil
}

// serve answers the Lambda Invoke API and the /_sluice endpoints, and
// forwards every other request to moto through the chaos plan; the
// Lambda calls that deploy code or configuration also take effect here.
func (s *Stack) serve(ln net.Listener, moto *url.URL) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2015-03-31/functions/{name}/invocations", s.Lambda.ServeInvoke)
	mux.HandleFunc("/_sluice/faults", s.Lambda.ServeFaults)
	mux.Handle("/_sluice/chaos", s.chaos)
	// Deployments reach moto through the Lambda service, which applies
	// them to the functions it runs.
	mux.Handle("/", s.Lambda.Control(s.chaos.wrap(httputil.NewSingleHostReverseProxy(moto))))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 30 * time.Second}
	go srv.Serve(ln)
	s.onDown(func() { srv.Close() })
}

// deploy learns the endpoint's account, which the ARNs carry, and
// deploys the template; it returns the clients it deployed with.
func (s *Stack) deploy(ctx context.Context, repo string) (localdeploy.Clients, error) {
	cfg, err := config.LoadDefaultConfig(ctx, config.WithBaseEndpoint(s.Endpoint), config.WithRegion(samtemplate.Region),
		config.WithCredentialsProvider(staticCreds{}))
	if err != nil {
		return localdeploy.Clients{}, err
	}
	if s.Template.Account, err = localdeploy.Account(ctx, cfg); err != nil {
		return localdeploy.Clients{}, err
	}
	s.Lambda.resolveArns(s.Template)
	c := localdeploy.NewClients(cfg)
	var deployLog bytes.Buffer
	if err := localdeploy.Deploy(ctx, s.Template, c, localdeploy.Options{BootstrapDir: repo + "/bin/lambda", Arch: "x86_64", Log: &deployLog}); err != nil {
		return localdeploy.Clients{}, fmt.Errorf("deploy: %w\n%s", err, deployLog.String())
	}
	s.log.Info("deployed", "resources", deployLog.String())
	return c, nil
}

// startEventSources starts the S3 glue, the Kinesis mappings and the
// schedules; Down cancels them and waits for them to end.
func (s *Stack) startEventSources(c localdeploy.Clients, ticks Ticks) error {
	ctx, cancel := context.WithCancel(context.Background())
	s.onDown(func() { cancel(); s.background.Wait() })
	if err := s.startGlue(ctx, c.S3, c.SQS, c.SFN); err != nil {
		return err
	}
	if err := s.startMappings(ctx, c.Kinesis, c.SQS); err != nil {
		return err
	}
	return s.startSchedules(ctx, ticks)
}

type staticCreds struct{}

func (staticCreds) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: "testing", SecretAccessKey: "testing", Source: "sluice-offline"}, nil
}

// startMappings runs a Kinesis event source mapping for every Kinesis
// event of the template's functions.
func (s *Stack) startMappings(ctx context.Context, kc *kinesis.Client, sqsc *sqs.Client) error {
	evs, err := s.Template.KinesisEvents()
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
		s.background.Go(func() {
			if err := e.Run(ctx); err != nil {
				s.log.Warn("event source mapping", "stream", ev.Stream, "err", err)
			}
		})
	}
	return nil
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
