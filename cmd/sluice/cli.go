package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
)

// exitError ends a command with an exit code. Its message, if any, is
// printed on stderr as it is.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// exitf is an exitError whose message is formatted.
func exitf(code int, format string, args ...any) error {
	return &exitError{code: code, msg: fmt.Sprintf(format, args...)}
}

// errFlags ends a command whose flags did not parse: the flag package
// has reported why.
var errFlags = &exitError{code: 2}

// exit is a command's exit code for the error its steps ended with: 0
// for none, an exitError's code after its message, else 1 after
// "name: err".
func exit(stderr io.Writer, name string, err error) int {
	var ee *exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		fmt.Fprint(stderr, ee.msg)
		return ee.code
	}
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
	return 1
}

// newFlagSet is a command's flag set: it reports mistakes on stderr and
// leaves the exit to the command.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// writeJSON writes v as indented JSON, as every --json output is.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// silent ends a command with code 1 and no message when writing its
// output failed.
func silent(err error) error {
	if err != nil {
		return &exitError{code: 1}
	}
	return nil
}
