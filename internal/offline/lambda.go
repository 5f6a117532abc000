// Package offline is sluice's offline AWS stack: one endpoint on loopback
// that serves the Lambda Invoke API by running the real bootstrap binaries
// through the Lambda Runtime API, and forwards every other request to
// moto_server; plus the event-source glue AWS does and moto does not.
package offline

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sluice-etl/sluice/internal/runtimeapi"
	"github.com/sluice-etl/sluice/internal/samtemplate"
)

// Function is one deployable function and its warm processes.
type Function struct {
	Name string
	Arn  string

	// runtime is the environment Lambda itself gives every process.
	runtime []string
	mu      sync.Mutex
	cfg     FunctionConfig
	// gen counts configurations: a process of an older one is not reused.
	gen  int
	idle []*proc
}

// FunctionConfig is what a deployment sets: the code, the function's
// environment variables and its limits.
type FunctionConfig struct {
	Bootstrap string
	Env       map[string]string
	Timeout   time.Duration
	Memory    int
}

// Config is the function's current configuration.
func (f *Function) Config() FunctionConfig {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cfg
}

// Configure changes the function's configuration, as
// UpdateFunctionConfiguration and UpdateFunctionCode do: invocations in
// flight finish as they began, idle processes are stopped, and the next
// invocation starts a process with the new configuration.
func (f *Function) Configure(change func(*FunctionConfig)) {
	f.mu.Lock()
	change(&f.cfg)
	f.gen++
	idle := f.idle
	f.idle = nil
	f.mu.Unlock()
	for _, p := range idle {
		p.Stop()
	}
}

// env is a new process's environment under cfg.
func (f *Function) env(cfg FunctionConfig) []string {
	env := make([]string, 0, len(cfg.Env)+len(f.runtime)+1)
	for k, v := range cfg.Env {
		env = append(env, k+"="+v)
	}
	env = append(env, f.runtime...)
	return append(env, fmt.Sprintf("AWS_LAMBDA_FUNCTION_MEMORY_SIZE=%d", cfg.Memory))
}

type proc struct {
	*runtimeapi.Process
	logs *lockedBuffer
	gen  int
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) take() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := append([]byte(nil), b.buf.Bytes()...)
	b.buf.Reset()
	return out
}

// Lambda runs functions on demand, keeps processes warm, enforces each
// function's timeout, and bounds concurrency.
type Lambda struct {
	fmu   sync.RWMutex
	funcs map[string]*Function
	// runtime is the environment every function's processes share.
	runtime []string
	// code holds the bootstraps deployments upload (made on first use).
	codeRoot string
	codeSeq  int
	sem      chan struct{}
	// Endpoint is given to functions as AWS_ENDPOINT_URL.
	Endpoint string
	// Logs receives every function's output, line-prefixed by function.
	Logs io.Writer
	mu   sync.Mutex
	// faults holds injected faults; none unless a test posts them.
	faults map[string]*Fault
	// chaos is the stack's fault plan (nil outside a stack).
	chaos *chaos
}

// Fault makes the next Count invocations of Function fail: Kind "error"
// returns a function error of type Sluice.InjectedFault without running
// the function; "throttle" answers 429 TooManyRequestsException; "kill"
// kills the function's process AfterMS into the invocation.
type Fault struct {
	Function string `json:"function"`
	Kind     string `json:"kind"`
	Count    int    `json:"count"`
	AfterMS  int    `json:"after_ms,omitempty"`
}

// SetFault installs a fault (Count 0 removes it).
func (l *Lambda) SetFault(f Fault) error {
	if _, ok := l.Function(f.Function); !ok {
		return fmt.Errorf("no function %q", f.Function)
	}
	if f.Kind != "error" && f.Kind != "throttle" && f.Kind != "kill" {
		return fmt.Errorf("fault kind %q: want error, throttle or kill", f.Kind)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.faults == nil {
		l.faults = map[string]*Fault{}
	}
	fn, _ := l.Function(f.Function)
	if f.Count <= 0 {
		delete(l.faults, fn.Name)
		return nil
	}
	l.faults[fn.Name] = &f
	return nil
}

// Faults lists the faults still armed.
func (l *Lambda) Faults() []Fault {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Fault
	for _, f := range l.faults {
		out = append(out, *f)
	}
	return out
}

func (l *Lambda) takeFault(name string) Fault {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.faults[name]
	if !ok {
		return Fault{}
	}
	f.Count--
	if f.Count <= 0 {
		delete(l.faults, name)
	}
	return *f
}

// ServeFaults serves GET and POST /_sluice/faults.
func (l *Lambda) ServeFaults(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		var f Fault
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&f); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := l.SetFault(f); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(l.Faults())
}

// LambdaOptions configure NewLambda.
type LambdaOptions struct {
	// BootstrapDir holds <function>/bootstrap (default bin/lambda).
	BootstrapDir string
	// Endpoint is given to functions as AWS_ENDPOINT_URL.
	Endpoint string
	// Concurrency bounds invocations in flight (default 10).
	Concurrency int
	// Logs receives every function's output, line-prefixed by function.
	Logs io.Writer
	// chaos is the stack's fault plan (nil outside a stack).
	chaos *chaos
}

// NewLambda loads the functions of a template.
func NewLambda(t *samtemplate.Template, optFns ...func(*LambdaOptions)) (*Lambda, error) {
	o := LambdaOptions{BootstrapDir: "bin/lambda", Concurrency: 10}
	for _, fn := range optFns {
		fn(&o)
	}
	fns, err := t.Functions()
	if err != nil {
		return nil, err
	}
	l := &Lambda{funcs: map[string]*Function{}, sem: make(chan struct{}, o.Concurrency), Endpoint: o.Endpoint, Logs: o.Logs, chaos: o.chaos}
	l.runtime = []string{"AWS_ENDPOINT_URL=" + o.Endpoint, "AWS_ACCESS_KEY_ID=" + FunctionAccessKey, "AWS_SECRET_ACCESS_KEY=testing",
		"AWS_REGION=" + samtemplate.Region, "AWS_DEFAULT_REGION=" + samtemplate.Region, "AWS_EC2_METADATA_DISABLED=true",
		// moto sends no response checksums; do not log about each one.
		"AWS_RESPONSE_CHECKSUM_VALIDATION=when_required"}
	for _, f := range fns {
		arn, _ := t.Arn(f.ID)
		l.add(f.Name, arn, FunctionConfig{Bootstrap: filepath.Join(o.BootstrapDir, f.Sluice, "bootstrap"), Env: f.Env,
			Timeout: time.Duration(f.Timeout) * time.Second, Memory: f.MemorySize})
	}
	return l, nil
}

// add creates (or replaces) a function.
func (l *Lambda) add(name, arn string, cfg FunctionConfig) *Function {
	f := &Function{Name: name, Arn: arn, cfg: cfg,
		runtime: append(slices.Clip(l.runtime), "AWS_LAMBDA_FUNCTION_NAME="+name)}
	l.fmu.Lock()
	old := l.funcs[name]
	l.funcs[name] = f
	l.fmu.Unlock()
	if old != nil {
		old.Configure(func(*FunctionConfig) {})
	}
	return f
}

// resolveArns sets the functions' ARNs again, once the template knows
// the endpoint's account.
func (l *Lambda) resolveArns(t *samtemplate.Template) {
	fns, _ := t.Functions()
	for _, fn := range fns {
		if f, ok := l.Function(fn.Name); ok {
			f.mu.Lock()
			f.Arn, _ = t.Arn(fn.ID)
			f.mu.Unlock()
		}
	}
}

// Function finds a function by name, ARN or qualified ARN.
func (l *Lambda) Function(ref string) (*Function, bool) {
	name := ref
	if strings.HasPrefix(ref, "arn:") {
		parts := strings.Split(ref, ":")
		if len(parts) >= 7 {
			name = parts[6]
		}
	}
	l.fmu.RLock()
	defer l.fmu.RUnlock()
	f, ok := l.funcs[name]
	return f, ok
}

// Result is one invocation's outcome, as the Invoke API reports it.
type Result struct {
	RequestID string
	Payload   []byte
	// FunctionError is "Unhandled" when the function failed.
	FunctionError string
	Logs          []byte
	Duration      time.Duration
}

// ErrThrottled is returned when every concurrency slot is busy.
var ErrThrottled = errors.New("rate exceeded: too many concurrent invocations")

// Invoke runs payload through f: a warm process when there is one, a new
// one otherwise. A process that times out or crashes is discarded.
func (l *Lambda) Invoke(ctx context.Context, f *Function, payload []byte) (*Result, error) {
	select {
	case l.sem <- struct{}{}:
	default:
		return nil, ErrThrottled
	}
	defer func() { <-l.sem }()
	c := &invocation{f: f, res: &Result{RequestID: newID()}, timeout: f.Config().Timeout}
	if l.applyChaos(c) {
		return nil, ErrThrottled
	}
	switch ft := l.takeFault(f.Name); ft.Kind {
	case "kill":
		c.kill = time.Duration(max(ft.AfterMS, 1)) * time.Millisecond
	case "throttle":
		return nil, ErrThrottled
	case "error":
		c.fail(runtimeapi.FunctionError{Type: "Sluice.InjectedFault", Message: "fault injected by the offline stack"})
		return c.res, nil
	}
	return l.run(ctx, c, payload)
}

// invocation is one call of a function: the function, the result so
// far, the timeout, and when its process is killed part way (0: not).
type invocation struct {
	f       *Function
	res     *Result
	timeout time.Duration
	kill    time.Duration
}

// fail makes the result a function error.
func (c *invocation) fail(fe runtimeapi.FunctionError) {
	c.res.FunctionError = "Unhandled"
	c.res.Payload, _ = json.Marshal(fe)
}

// applyChaos applies the stack's chaos plan to the invocation: its function
// timeout, and for the functions it names, a throttle (it reports true)
// or a kill.
func (l *Lambda) applyChaos(c *invocation) (throttled bool) {
	if l.chaos == nil {
		return false
	}
	plan := l.chaos.current()
	if plan == nil {
		return false
	}
	if plan.FunctionTimeoutMS > 0 {
		c.timeout = time.Duration(plan.FunctionTimeoutMS) * time.Millisecond
	}
	if !plan.forFunction(c.f.Name) {
		return false
	}
	if l.chaos.roll(func(p *Chaos) float64 { return p.LambdaThrottle }, FaultLambdaThrottle) {
		return true
	}
	if l.chaos.roll(func(p *Chaos) float64 { return p.Kill }, FaultKill) {
		within := plan.KillWithinMS
		if within <= 0 {
			within = 300
		}
		c.kill = time.Duration(1+l.chaos.intn(within)) * time.Millisecond
	}
	return false
}

// run invokes the function in a process, writes its log and settles
// the result.
func (l *Lambda) run(ctx context.Context, c *invocation, payload []byte) (*Result, error) {
	began := time.Now()
	p, err := c.f.take(ctx)
	if err != nil {
		c.fail(runtimeapi.FunctionError{Type: "Runtime.InitError", Message: err.Error()})
		return c.res, nil
	}
	if c.kill > 0 {
		// The process dies part way through, as an out-of-memory kill or
		// a host failure would end it.
		stop := time.AfterFunc(c.kill, p.Stop)
		defer stop.Stop()
	}
	out, err := p.Invoke(ctx, payload, c.timeout)
	c.res.Duration = time.Since(began)
	c.res.Logs = c.logs(p)
	l.writeLogs(c.f.Name, c.res.Logs)
	if err := c.settle(p, out, err); err != nil {
		return nil, err
	}
	return c.res, nil
}

// logs is the process's output within the lines Lambda adds around every
// invocation.
func (c *invocation) logs(p *proc) []byte {
	id := c.res.RequestID
	b := append([]byte("START RequestId: "+id+" Version: $LATEST\n"), p.logs.take()...)
	b = fmt.Appendf(b, "END RequestId: %s\nREPORT RequestId: %s\tDuration: %.2f ms\tMemory Size: %d MB",
		id, id, float64(c.res.Duration)/1e6, c.f.Config().Memory)
	if mb, ok := maxMemoryUsed(p); ok {
		b = fmt.Appendf(b, "\tMax Memory Used: %d MB", mb)
	}
	return append(b, '\n')
}

// maxMemoryUsed is the process's peak resident memory so far, in MB, as
// Lambda's REPORT line gives it (VmHWM of /proc/PID/status on Linux).
func maxMemoryUsed(p *proc) (int64, bool) {
	if p.Cmd == nil || p.Cmd.Process == nil {
		return 0, false
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Cmd.Process.Pid))
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			if _, err := fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), &kb); err == nil {
				return (kb + 1023) / 1024, true
			}
		}
	}
	return 0, false
}

// settle sets the result from the invocation's outcome, and keeps the
// process warm unless it timed out, exited or failed to answer.
func (c *invocation) settle(p *proc, out []byte, err error) error {
	var fe *runtimeapi.FunctionError
	switch {
	case err == nil:
		c.res.Payload = out
		c.f.put(p)
	case errors.As(err, &fe) && fe.Type == "Sandbox.Timedout":
		// As Lambda: the sandbox is torn down and the error carries no type.
		p.Stop()
		c.res.FunctionError = "Unhandled"
		c.res.Payload, _ = json.Marshal(map[string]string{"errorMessage": fmt.Sprintf("%s %s Task timed out after %.2f seconds",
			time.Now().UTC().Format(time.RFC3339), c.res.RequestID, c.timeout.Seconds())})
	case errors.As(err, &fe):
		c.fail(*fe)
		if fe.Type == "Runtime.ExitError" {
			p.Stop()
		} else {
			c.f.put(p)
		}
	default:
		p.Stop()
		return err
	}
	return nil
}

// writeLogs copies an invocation's log to Logs, each line prefixed with
// the function's name.
func (l *Lambda) writeLogs(name string, logs []byte) {
	if len(logs) > 0 && l.Logs != nil {
		for _, line := range strings.Split(strings.TrimRight(string(logs), "\n"), "\n") {
			fmt.Fprintf(l.Logs, "[%s] %s\n", name, line)
		}
	}
}

func (f *Function) take(ctx context.Context) (*proc, error) {
	f.mu.Lock()
	cfg, gen, arn := f.cfg, f.gen, f.Arn
	for len(f.idle) > 0 {
		p := f.idle[len(f.idle)-1]
		f.idle = f.idle[:len(f.idle)-1]
		select {
		case <-p.Exited():
			continue
		default:
		}
		f.mu.Unlock()
		return p, nil
	}
	f.mu.Unlock()
	logs := &lockedBuffer{}
	rp, err := runtimeapi.Spawn(ctx, cfg.Bootstrap, f.env(cfg), logs, func(o *runtimeapi.Options) { o.FunctionARN = arn })
	if err != nil {
		return nil, fmt.Errorf("%w\n%s", err, logs.take())
	}
	return &proc{Process: rp, logs: logs, gen: gen}, nil
}

// put keeps p warm, unless the function was configured anew meanwhile.
func (f *Function) put(p *proc) {
	f.mu.Lock()
	if p.gen == f.gen {
		f.idle = append(f.idle, p)
		p = nil
	}
	f.mu.Unlock()
	if p != nil {
		p.Stop()
	}
}

// Close stops every warm process and removes the uploaded code.
func (l *Lambda) Close() {
	l.fmu.RLock()
	for _, f := range l.funcs {
		f.mu.Lock()
		for _, p := range f.idle {
			p.Stop()
		}
		f.idle = nil
		f.mu.Unlock()
	}
	code := l.codeRoot
	l.fmu.RUnlock()
	if code != "" {
		os.RemoveAll(code)
	}
}

func newID() string {
	var b [16]byte
	rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// ServeInvoke serves POST /2015-03-31/functions/{name}/invocations.
func (l *Lambda) ServeInvoke(w http.ResponseWriter, r *http.Request) {
	f, ok := l.Function(r.PathValue("name"))
	rid := newID()
	w.Header().Set("X-Amzn-RequestId", rid)
	if !ok {
		writeAPIError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+r.PathValue("name"))
		return
	}
	payload, err := io.ReadAll(io.LimitReader(r.Body, 6<<20+1))
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, "InvalidRequestContentException", err.Error())
		return
	}
	if len(payload) > 6<<20 {
		writeAPIError(w, http.StatusRequestEntityTooLarge, "RequestTooLargeException", "Request must be smaller than 6291456 bytes for the InvokeFunction operation")
		return
	}
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	switch r.Header.Get("X-Amz-Invocation-Type") {
	case "DryRun":
		w.WriteHeader(http.StatusNoContent)
		return
	case "Event":
		go func() {
			// Lambda retries a failed async invocation twice.
			for range 3 {
				res, err := l.Invoke(context.Background(), f, payload)
				if err == nil && res.FunctionError == "" {
					return
				}
				time.Sleep(time.Second)
			}
		}()
		w.WriteHeader(http.StatusAccepted)
		return
	}
	res, err := l.Invoke(r.Context(), f, payload)
	if errors.Is(err, ErrThrottled) {
		writeAPIError(w, http.StatusTooManyRequests, "TooManyRequestsException", err.Error())
		return
	}
	if err != nil {
		writeAPIError(w, http.StatusInternalServerError, "ServiceException", err.Error())
		return
	}
	h := w.Header()
	h.Set("X-Amz-Executed-Version", "$LATEST")
	h.Set("Content-Type", "application/json")
	if res.FunctionError != "" {
		h.Set("X-Amz-Function-Error", res.FunctionError)
	}
	if r.Header.Get("X-Amz-Log-Type") == "Tail" {
		tail := res.Logs
		if len(tail) > 4096 {
			tail = tail[len(tail)-4096:]
		}
		h.Set("X-Amz-Log-Result", base64.StdEncoding.EncodeToString(tail))
	}
	w.WriteHeader(http.StatusOK)
	w.Write(res.Payload)
}

func writeAPIError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"Type": "User", "Message": msg, "message": msg})
}
