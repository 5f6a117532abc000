// Package runtimeapi serves the AWS Lambda Runtime API
// (/2018-06-01/runtime/...) to one function process, so the real
// `bootstrap` binaries built from functions/* run locally: Invoke queues
// an event, the process fetches it with GET .../invocation/next, and its
// POST .../response or .../error completes the call.
package runtimeapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// FunctionError is an error the function reported, as Lambda reports it.
type FunctionError struct {
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
}

func (e *FunctionError) Error() string { return e.Type + ": " + e.Message }

// ErrInitFailed means the process reported an init error or exited.
var ErrInitFailed = errors.New("function init failed")

type invocation struct {
	id       string
	payload  []byte
	deadline time.Time
	done     chan result
}

type result struct {
	body []byte
	err  error
}

// Server is a Runtime API endpoint for one function process.
type Server struct {
	// Addr is host:port, the value of AWS_LAMBDA_RUNTIME_API.
	Addr string
	// FunctionARN is reported to the function.
	FunctionARN string

	ln      net.Listener
	srv     *http.Server
	queue   chan *invocation
	mu      sync.Mutex
	pending map[string]*invocation
	seq     atomic.Int64
	// firstNext is closed on the first GET .../next: the process is ready.
	firstNext chan struct{}
	nextOnce  sync.Once
	initErr   chan error
}

// Options configure a Server.
type Options struct {
	// FunctionARN is reported to the function (default
	// arn:aws:lambda:us-east-1:000000000000:function:local).
	FunctionARN string
}

// Start listens on 127.0.0.1 on a free port.
func Start(optFns ...func(*Options)) (*Server, error) {
	o := Options{FunctionARN: "arn:aws:lambda:us-east-1:000000000000:function:local"}
	for _, fn := range optFns {
		fn(&o)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{
		Addr: ln.Addr().String(), FunctionARN: o.FunctionARN,
		ln: ln, queue: make(chan *invocation, 64), pending: map[string]*invocation{},
		firstNext: make(chan struct{}), initErr: make(chan error, 1),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", s.next)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", s.response)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", s.errorReport)
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", s.initError)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln)
	return s, nil
}

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

// Ready is closed when the process first asks for an invocation.
func (s *Server) Ready() <-chan struct{} { return s.firstNext }

// InitErr reports an init error the process posted.
func (s *Server) InitErr() <-chan error { return s.initErr }

func (s *Server) next(w http.ResponseWriter, r *http.Request) {
	s.nextOnce.Do(func() { close(s.firstNext) })
	select {
	case inv := <-s.queue:
		h := w.Header()
		h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", s.FunctionARN)
		h.Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0")
		h.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.Write(inv.payload)
	case <-r.Context().Done():
	}
}

func (s *Server) take(id string) *invocation {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv := s.pending[id]
	delete(s.pending, id)
	return inv
}

func (s *Server) response(w http.ResponseWriter, r *http.Request) {
	inv := s.take(r.PathValue("id"))
	if inv == nil {
		http.Error(w, "unknown request id", http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 6<<20+1))
	if err == nil && len(body) > 6<<20 {
		err = &FunctionError{Type: "Function.ResponseSizeTooLarge", Message: "response is larger than 6 MB"}
	}
	inv.done <- result{body: body, err: err}
	w.WriteHeader(http.StatusAccepted)
}

func (s *Server) errorReport(w http.ResponseWriter, r *http.Request) {
	inv := s.take(r.PathValue("id"))
	if inv == nil {
		http.Error(w, "unknown request id", http.StatusBadRequest)
		return
	}
	var fe FunctionError
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if json.Unmarshal(body, &fe) != nil || fe.Type == "" {
		fe = FunctionError{Type: r.Header.Get("Lambda-Runtime-Function-Error-Type"), Message: string(body)}
	}
	inv.done <- result{err: &fe}
	w.WriteHeader(http.StatusAccepted)
}

func (s *Server) initError(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	select {
	case s.initErr <- fmt.Errorf("%w: %s", ErrInitFailed, strings.TrimSpace(string(body))):
	default:
	}
	w.WriteHeader(http.StatusAccepted)
}

// Invoke sends payload to the function and waits for its answer or for
// timeout to pass.
func (s *Server) Invoke(ctx context.Context, payload []byte, timeout time.Duration) ([]byte, error) {
	inv := &invocation{
		id: fmt.Sprintf("00000000-0000-4000-8000-%012d", s.seq.Add(1)), payload: payload,
		deadline: time.Now().Add(timeout), done: make(chan result, 1),
	}
	s.mu.Lock()
	s.pending[inv.id] = inv
	s.mu.Unlock()
	select {
	case s.queue <- inv:
	case <-ctx.Done():
		s.take(inv.id)
		return nil, ctx.Err()
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-inv.done:
		return r.body, r.err
	case <-t.C:
		s.take(inv.id)
		return nil, &FunctionError{Type: "Sandbox.Timedout", Message: fmt.Sprintf("Task timed out after %.2f seconds", timeout.Seconds())}
	case <-ctx.Done():
		s.take(inv.id)
		return nil, ctx.Err()
	}
}

// Process is a function process served by a Server.
type Process struct {
	*Server
	Cmd *exec.Cmd
	// Started is when the process was spawned; Init is how long it took
	// until it first asked for an invocation.
	Started time.Time
	Init    time.Duration

	exited  chan struct{}
	exitErr error
}

// Exited is closed when the process has ended.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// ErrExited is the error of an invocation whose process ended before
// answering (a crash, or a kill).
var ErrExited = errors.New("function process exited")

// Invoke is Server.Invoke that also ends when the process dies.
func (p *Process) Invoke(ctx context.Context, payload []byte, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-p.exited:
			cancel()
		case <-ctx.Done():
		}
	}()
	out, err := p.Server.Invoke(ctx, payload, timeout)
	select {
	case <-p.exited:
		if err != nil {
			return nil, &FunctionError{Type: "Runtime.ExitError", Message: fmt.Sprintf("RequestId: process exited before completing request: %v", p.exitErr)}
		}
	default:
	}
	return out, err
}

// Spawn starts the bootstrap at path with env (plus the Runtime API
// variables) and waits until it is ready for its first invocation.
// optFns configure its Server.
func Spawn(ctx context.Context, path string, env []string, stderr io.Writer, optFns ...func(*Options)) (*Process, error) {
	s, err := Start(optFns...)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path)
	// Defaults first: a later entry of env overrides them.
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"),
		"AWS_LAMBDA_FUNCTION_NAME=local", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256", "AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_LOG_FORMAT=JSON", "_HANDLER=bootstrap"}, env...)
	cmd.Env = append(cmd.Env, "AWS_LAMBDA_RUNTIME_API="+s.Addr)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	p := &Process{Server: s, Cmd: cmd, exited: make(chan struct{})}
	p.Started = time.Now()
	if err := cmd.Start(); err != nil {
		s.Close()
		return nil, err
	}
	go func() { p.exitErr = cmd.Wait(); close(p.exited) }()
	select {
	case <-s.Ready():
		p.Init = time.Since(p.Started)
		return p, nil
	case err := <-s.InitErr():
		p.Stop()
		return nil, err
	case <-p.exited:
		s.Close()
		return nil, fmt.Errorf("%w: process exited: %v", ErrInitFailed, p.exitErr)
	case <-ctx.Done():
		p.Stop()
		return nil, ctx.Err()
	}
}

// Stop kills the process, waits for it to end and closes its server.
func (p *Process) Stop() {
	if p.Cmd.Process != nil {
		p.Cmd.Process.Kill()
		<-p.exited
	}
	p.Server.Close()
}
