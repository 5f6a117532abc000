//go:build unix

// Package browser drives Debian's headless Chromium for tests that check
// a page as a person would see it: the DOM after its scripts ran, and a
// screenshot. Each call starts one Chromium with a fresh, empty profile
// folder and no network (every host name fails to resolve), waits for it
// to exit, and removes the folder. Chromium and the processes it starts
// run in a process group of their own: a call whose context ends kills
// that group, and nothing else.
package browser

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// DefaultPath is where Debian's chromium package installs the browser.
const DefaultPath = "/usr/bin/chromium"

// ErrNotFound is returned when no Chromium is installed.
var ErrNotFound = errors.New("chromium is not installed (apt-get install chromium)")

// Browser runs one Chromium binary.
type Browser struct {
	path string
	opt  Options
}

// Options tune a Browser.
type Options struct {
	// Timeout bounds each call (default one minute).
	Timeout time.Duration
}

// Find returns the Chromium on PATH, else DefaultPath, else ErrNotFound.
func Find() (string, error) {
	if p, err := exec.LookPath("chromium"); err == nil {
		return p, nil
	}
	if st, err := os.Stat(DefaultPath); err == nil && !st.IsDir() {
		return DefaultPath, nil
	}
	return "", ErrNotFound
}

// New returns a Browser that runs the Chromium at path.
func New(path string, optFns ...func(*Options)) *Browser {
	b := &Browser{path: path, opt: Options{Timeout: time.Minute}}
	for _, fn := range optFns {
		fn(&b.opt)
	}
	return b
}

// Need returns the installed Chromium for a test. Without one the test
// is skipped, except on CI (CI=true), where it fails.
func Need(t testing.TB) *Browser {
	t.Helper()
	path, err := Find()
	switch {
	case err == nil:
		return New(path)
	case os.Getenv("CI") == "true":
		t.Fatalf("%v: CI must have it (.ci/run installs it)", err)
	default:
		t.Skipf("%v", err)
	}
	return nil
}

// flags are the switches every call passes: headless, no sandbox (CI runs
// as root), no GPU, and nothing that reaches the network.
var flags = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
	"--no-first-run", "--disable-component-update", "--disable-sync", "--disable-extensions",
	"--host-resolver-rules=MAP * ~NOTFOUND", "--hide-scrollbars",
}

// DumpDOM loads url and returns its DOM, serialized after its scripts ran.
func (b *Browser) DumpDOM(ctx context.Context, url string) (string, error) {
	out, err := b.run(ctx, "--dump-dom", url)
	if err != nil {
		return "", fmt.Errorf("dump the DOM of %s: %w", url, err)
	}
	return out, nil
}

// Screenshot loads url in a window of width×height CSS pixels and writes
// a PNG of it to path.
func (b *Browser) Screenshot(ctx context.Context, url, path string, width, height int) error {
	if _, err := b.run(ctx, "--screenshot="+path, fmt.Sprintf("--window-size=%d,%d", width, height), url); err != nil {
		return fmt.Errorf("screenshot %s: %w", url, err)
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("screenshot %s: chromium wrote no %s", url, path)
	}
	return nil
}

// run starts Chromium with a fresh profile folder and args, and returns
// what it printed on stdout.
func (b *Browser) run(ctx context.Context, args ...string) (string, error) {
	dir, err := os.MkdirTemp("", "sluice-chromium-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(ctx, b.opt.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.path, append(append(flags[:len(flags):len(flags)], "--user-data-dir="+dir), args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Dir = dir
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: %w\n%s", b.path, err, lastLines(stderr.String(), 10))
	}
	return stdout.String(), nil
}

// lastLines is the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
