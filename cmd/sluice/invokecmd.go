package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/sluice-etl/sluice/internal/runtimeapi"
	"github.com/sluice-etl/sluice/internal/samtemplate"
)

// cmdInvoke is `sluice invoke FUNCTION --event FILE`, the `sam local
// invoke` equivalent without Docker: it builds the function's bootstrap
// for this machine, runs it through the Lambda Runtime API with the
// template's environment and timeout, and prints the response (stdout)
// and the function's logs (stderr). AWS calls go to AWS_ENDPOINT_URL, by
// default the offline stack on 127.0.0.1:4566.
func cmdInvoke(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := &invokeCmd{stdout: stdout, stderr: stderr}
	return exit(stderr, "sluice invoke", c.run(ctx, args))
}

// invokeCmd is `sluice invoke`: its arguments, then the template and the
// function they name.
type invokeCmd struct {
	stdout, stderr io.Writer

	name, event, tmpl, stack string
	env                      paramFlags

	t  *samtemplate.Template
	fn *samtemplate.Function
}

func (c *invokeCmd) run(ctx context.Context, args []string) error {
	if err := c.parse(args); err != nil {
		return err
	}
	payload, err := c.readEvent()
	if err != nil {
		return err
	}
	if err := c.findFunction(); err != nil {
		return err
	}
	bin, err := c.build(ctx)
	if err != nil {
		return err
	}
	return c.invoke(ctx, bin, payload)
}

func (c *invokeCmd) parse(args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return exitf(2, "usage: sluice invoke FUNCTION --event FILE [--template template.yaml] [--stack sluice] [--env K=V]...\n")
	}
	c.name = args[0]
	fs := newFlagSet("invoke", c.stderr)
	fs.StringVar(&c.event, "event", "", "event JSON file (- for stdin)")
	fs.StringVar(&c.tmpl, "template", "template.yaml", "SAM template")
	fs.StringVar(&c.stack, "stack", "sluice", "local stack name")
	fs.Var(&c.env, "env", "extra environment K=V (repeatable)")
	if err := fs.Parse(args[1:]); err != nil {
		return errFlags
	}
	return nil
}

// readEvent reads the payload: the --event file, stdin for -, or {}.
func (c *invokeCmd) readEvent() ([]byte, error) {
	switch c.event {
	case "":
		return []byte("{}"), nil
	case "-":
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(c.event)
}

// findFunction loads the template and finds the function by its sluice
// name, logical ID or physical name.
func (c *invokeCmd) findFunction() error {
	t, err := samtemplate.Load(c.tmpl, c.stack, nil)
	if err != nil {
		return err
	}
	fns, err := t.Functions()
	if err != nil {
		return err
	}
	var names []string
	for i, f := range fns {
		names = append(names, f.Sluice)
		if f.Sluice == c.name || f.ID == c.name || f.Name == c.name {
			c.fn = &fns[i]
		}
	}
	if c.fn == nil {
		return fmt.Errorf("no function %q in %s (have %s)", c.name, c.tmpl, strings.Join(names, ", "))
	}
	c.t = t
	return nil
}

// build builds the function's bootstrap for this machine and returns
// its path.
func (c *invokeCmd) build(ctx context.Context) (string, error) {
	// go build runs in the template's folder: an absolute output path keeps
	// the binary where it is run from, whatever --template says.
	bin, err := filepath.Abs(filepath.Join(filepath.Dir(c.tmpl), "bin", "invoke", c.fn.Sluice, "bootstrap"))
	if err != nil {
		return "", exitf(1, "sluice invoke: %v", err)
	}
	build := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-o", bin, "./functions/"+c.fn.Sluice)
	build.Dir = filepath.Dir(c.tmpl)
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if out, err := build.CombinedOutput(); err != nil {
		return "", exitf(1, "sluice invoke: build %s: %v\n%s", c.fn.Sluice, err, out)
	}
	return bin, nil
}

// environ is the function's environment: the endpoint, region and
// credentials, the Lambda variables, then the template's variables and
// --env on top.
func (c *invokeCmd) environ(ctx context.Context) []string {
	endpoint := os.Getenv("AWS_ENDPOINT_URL")
	if endpoint == "" {
		endpoint = "http://127.0.0.1:4566"
	}
	env := []string{"AWS_ENDPOINT_URL=" + endpoint, "AWS_REGION=" + samtemplate.Region, "AWS_EC2_METADATA_DISABLED=true",
		"AWS_RESPONSE_CHECKSUM_VALIDATION=when_required", "AWS_LAMBDA_FUNCTION_NAME=" + c.fn.Name,
		fmt.Sprintf("AWS_LAMBDA_FUNCTION_MEMORY_SIZE=%d", c.fn.MemorySize)}
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		v := os.Getenv(k)
		if v == "" {
			v = "testing"
		}
		env = append(env, k+"="+v)
	}
	for k, v := range c.variables(ctx, endpoint) {
		env = append(env, k+"="+v)
	}
	return env
}

// variables are the template's environment of the function, with --env
// on top.
func (c *invokeCmd) variables(ctx context.Context, endpoint string) map[string]string {
	vars := map[string]string{}
	maps.Copy(vars, c.fn.Env)
	if sms := c.t.Resources("AWS::Serverless::StateMachine"); len(sms) == 1 && c.fn.Sluice == "extract" {
		// The template leaves it out (EventBridge starts the machine); a
		// local S3 notification needs it to start one.
		if id, err := accountOf(ctx, endpoint); err == nil {
			c.t.Account = id
		}
		vars["SLUICE_STATE_MACHINE_ARN"], _ = c.t.Arn(sms[0].ID)
	}
	maps.Copy(vars, c.env.m)
	return vars
}

// invoke runs the bootstrap once with payload, prints its logs and a
// REPORT line on stderr, and its response on stdout.
func (c *invokeCmd) invoke(ctx context.Context, bin string, payload []byte) error {
	var logs bytes.Buffer
	p, err := runtimeapi.Spawn(ctx, bin, c.environ(ctx), &logs)
	if err != nil {
		return exitf(1, "sluice invoke: %v\n%s", err, logs.String())
	}
	defer p.Stop()
	began := time.Now()
	out, err := p.Invoke(ctx, payload, time.Duration(c.fn.Timeout)*time.Second)
	took := time.Since(began)
	c.stderr.Write(logs.Bytes())
	fmt.Fprintf(c.stderr, "REPORT function %s init %.1f ms duration %.1f ms memory %d MB\n", c.fn.Name, float64(p.Init)/1e6, float64(took)/1e6, c.fn.MemorySize)
	var fe *runtimeapi.FunctionError
	if errors.As(err, &fe) {
		b, _ := json.Marshal(fe)
		fmt.Fprintln(c.stdout, string(b))
		return &exitError{code: 1}
	}
	if err != nil {
		return err
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, out, "", "  ") == nil {
		out = pretty.Bytes()
	}
	fmt.Fprintln(c.stdout, string(out))
	return nil
}
