package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"syscall"
	"time"
)

// lockOutput takes an exclusive lock on a local output folder for the
// length of a run, so two runs into one folder go one after the other
// instead of interleaving their commits. Another run's lock is waited
// for, until ctx ends. Outputs that are not local folders are not locked.
func lockOutput(ctx context.Context, output string, stderr io.Writer) (unlock func(), err error) {
	dir, ok := localFolder(output)
	if !ok {
		return func() {}, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("output %s: %w", output, err)
	}
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("output %s: %w", output, err)
	}
	for waited := false; ; waited = true {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil // closing releases the lock
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock output %s: %w", output, err)
		}
		if !waited {
			fmt.Fprintf(stderr, "sluice run: waiting for another run into %s\n", output)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock output %s: %w", output, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// localFolder is the path of an output that is a local folder.
func localFolder(output string) (string, bool) {
	u, err := url.Parse(output)
	switch {
	case err != nil || u.Scheme == "":
		return output, true
	case u.Scheme == "file":
		return u.Path, true
	}
	return "", false
}
