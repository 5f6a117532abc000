package main

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

func TestRunRefusesParallelBelowOne(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"0", "-3"} {
		code, out, stderr := runCLI(t, "run", "--spec", "../../examples/orders/spec.yaml", "--input", "../../examples/orders/orders.csv",
			"--output", filepath.Join(dir, "out"+n), "--parallel", n, "--quiet")
		if code != 2 || out != "" || stderr != "sluice run: --parallel must be at least 1, not "+n+"\n" {
			t.Errorf("--parallel %s: exit %d, stdout %q, stderr %q", n, code, out, stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, "out"+n)); !os.IsNotExist(err) {
			t.Errorf("--parallel %s: the output folder was made: %v", n, err)
		}
	}
}

// slowInput writes a spec and an input whose first record is kept at
// once and whose every other record spends the whole expression budget:
// a run of it takes minutes unless stopped.
func slowInput(t *testing.T) (spec, in, out string) {
	t.Helper()
	dir := t.TempDir()
	spec, in, out = filepath.Join(dir, "s.yaml"), filepath.Join(dir, "in.csv"), filepath.Join(dir, "out")
	os.WriteFile(spec, []byte("version: 1\nsource: {format: csv}\nfields: [{name: id, type: int}]\n"+
		"filter: 'let r = 1..1000; id == 0 || all(r, {all(r, {all(r, {true})})})'\n"), 0o644)
	var b bytes.Buffer
	b.WriteString("id\n0\n")
	for i := range 20000 {
		b.WriteString(strings.Repeat("1", 1+i%3) + "\n")
	}
	os.WriteFile(in, b.Bytes(), 0o644)
	return spec, in, out
}

// waitForStaging waits until the run into out has staged a file: its
// first record has been kept, and it is working on the next ones. It
// gives up when done delivers first.
func waitForStaging(t *testing.T, out string, done <-chan int) {
	t.Helper()
	staged := func() bool {
		found := false
		filepath.WalkDir(filepath.Join(out, "_staging"), func(_ string, d fs.DirEntry, err error) error {
			found = found || (err == nil && !d.IsDir())
			return nil
		})
		return found
	}
	for i := 0; !staged(); i++ {
		select {
		case code := <-done:
			t.Fatalf("the run ended with %d before anything was staged", code)
		default:
		}
		if i == 10_000_000 {
			t.Fatal("nothing staged")
		}
		runtime.Gosched()
	}
}

// checkStopped checks the output of a run that was stopped: a failed
// manifest that says why, no success marker and no staging left.
func checkStopped(t *testing.T, out string) {
	t.Helper()
	m := readManifest(t, out)
	if m["status"] != "failed" || !strings.Contains(m["error"].(string), "context canceled") {
		t.Errorf("manifest status %v, error %v", m["status"], m["error"])
	}
	for _, name := range []string{"_SUCCESS", "_staging"} {
		if _, err := os.Stat(filepath.Join(out, name)); !os.IsNotExist(err) {
			t.Errorf("%s left: %v", name, err)
		}
	}
}

// A run whose context is cancelled while records are being transformed
// stops, writes a failed manifest and clears its staging.
func TestRunStopsWhenCancelled(t *testing.T) {
	spec, in, out := slowInput(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"run", "--spec", spec, "--input", in, "--output", out}, io.Discard, io.Discard)
	}()
	waitForStaging(t, out, done)
	cancel()
	if code := <-done; code != 1 {
		t.Errorf("exit %d", code)
	}
	checkStopped(t, out)
}

// TestMainProcess is sluice itself when the test binary is started by
// TestRunStopsOnSignal: it runs main with the arguments given in the
// environment.
func TestMainProcess(t *testing.T) {
	args := os.Getenv("SLUICE_TEST_MAIN_ARGS")
	if args == "" {
		t.Skip("run as a child process by TestRunStopsOnSignal")
	}
	os.Args = append([]string{"sluice"}, strings.Split(args, "\n")...)
	main()
}

// Ctrl-C (SIGINT) and SIGTERM stop `sluice run` in the middle of its
// records: it writes a failed manifest, clears its staging and exits 1.
func TestRunStopsOnSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			spec, in, out := slowInput(t)
			cmd := exec.Command(os.Args[0], "-test.run=^TestMainProcess$")
			cmd.Env = append(os.Environ(), "SLUICE_TEST_MAIN_ARGS="+strings.Join([]string{"run", "--spec", spec, "--input", in, "--output", out}, "\n"))
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan int, 1)
			go func() { cmd.Wait(); exited <- cmd.ProcessState.ExitCode() }()
			waitForStaging(t, out, exited)
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if code := <-exited; code != 1 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			checkStopped(t, out)
		})
	}
}
