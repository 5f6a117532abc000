// Package motoserver starts a moto_server on a free loopback port for
// integration tests and stops it when the test binary is done. Tests that
// need it call Start from TestMain.
//
// The server runs through localstack/offline/moto_launcher.py, the
// offline stack's launcher, so the tests see the same patched moto as the
// stack: Glue's UpdateTable honours VersionId there.
package motoserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
)

// Server is a running moto_server.
type Server struct {
	// Endpoint is http://127.0.0.1:PORT.
	Endpoint string
	cmd      *exec.Cmd
}

// ErrUnavailable means moto_server is not installed.
var ErrUnavailable = errors.New("moto_server not found on PATH")

// Start launches moto_server on 127.0.0.1 and waits until it answers.
// SLUICE_MOTO_ENDPOINT, when set, names an already running server instead.
func Start(ctx context.Context) (*Server, error) {
	if ep := os.Getenv("SLUICE_MOTO_ENDPOINT"); ep != "" {
		return &Server{Endpoint: ep}, waitReady(ctx, ep)
	}
	if _, err := exec.LookPath("moto_server"); err != nil {
		return nil, ErrUnavailable
	}
	launcher, err := Launcher()
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("python3", launcher, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if os.Getenv("SLUICE_MOTO_LOG") == "" {
		cmd.Stdout, cmd.Stderr = nil, nil
	} else {
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start moto_server: %w", err)
	}
	s := &Server{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd}
	if err := waitReady(ctx, s.Endpoint); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// launcherPath is the launcher's place in the repository.
var launcherPath = filepath.Join("localstack", "offline", "moto_launcher.py")

// Launcher is the path of localstack/offline/moto_launcher.py: in the
// source tree this package was built from, or else (a -trimpath build)
// in the nearest folder at or above the working directory that has it.
func Launcher() (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		p := filepath.Join(filepath.Dir(file), "..", "..", launcherPath)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("moto launcher: %w", err)
	}
	for {
		p := filepath.Join(dir, launcherPath)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("moto launcher: no %s in the working directory or above", launcherPath)
		}
		dir = parent
	}
}

// Stop ends the server this package started (and only that one).
func (s *Server) Stop() {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// Env points the AWS SDK at the server with dummy credentials.
func (s *Server) Env() map[string]string {
	return map[string]string{
		"AWS_ENDPOINT_URL":          s.Endpoint,
		"AWS_ACCESS_KEY_ID":         "testing",
		"AWS_SECRET_ACCESS_KEY":     "testing",
		"AWS_REGION":                "us-east-1",
		"AWS_EC2_METADATA_DISABLED": "true",
	}
}

// Setenv applies Env to this process.
func (s *Server) Setenv() {
	for k, v := range s.Env() {
		os.Setenv(k, v)
	}
}

// FreePort returns a loopback TCP port nothing listens on now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitReady(ctx context.Context, ep string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ep+"/moto-api/", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("moto_server at %s not ready: %w", ep, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Required reports whether integration tests must run rather than skip:
// in CI (CI=true) a missing moto_server is a failure.
func Required() bool { return os.Getenv("CI") == "true" || os.Getenv("SLUICE_REQUIRE_MOTO") == "1" }

// TB is the part of testing.TB Need uses.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
}

// Need fails the test in CI, or skips it elsewhere, when err says the
// local AWS server could not be had.
func Need(t TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if Required() {
		t.Fatalf("moto_server is required in CI: %v", err)
	}
	t.Skipf("no local AWS server: %v", err)
}

// Config is an AWS SDK configuration pointed at the server, with the
// dummy credentials moto accepts.
func (s *Server) Config(ctx context.Context) (aws.Config, error) {
	return config.LoadDefaultConfig(ctx, config.WithBaseEndpoint(s.Endpoint), config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "testing", SecretAccessKey: "testing", Source: "moto"}, nil
		})))
}

// ForTest starts a server for one test (see Need), points the test's
// environment at it (for code that reads AWS_ENDPOINT_URL), stops it when
// the test ends, and returns an SDK configuration for it.
func ForTest(t interface {
	TB
	Setenv(key, value string)
	Cleanup(func())
}) aws.Config {
	t.Helper()
	srv, err := Start(context.Background())
	Need(t, err)
	t.Cleanup(srv.Stop)
	for k, v := range srv.Env() {
		t.Setenv(k, v)
	}
	cfg, err := srv.Config(context.Background())
	if err != nil {
		t.Fatalf("AWS config for moto: %v", err)
	}
	return cfg
}
