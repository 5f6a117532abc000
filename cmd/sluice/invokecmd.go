package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
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
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(stderr, "usage: sluice invoke FUNCTION --event FILE [--template template.yaml] [--stack sluice] [--env K=V]...")
		return 2
	}
	name := args[0]
	fs := flag.NewFlagSet("invoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	event := fs.String("event", "", "event JSON file (- for stdin)")
	tmpl := fs.String("template", "template.yaml", "SAM template")
	stack := fs.String("stack", "sluice", "local stack name")
	var env paramFlags
	fs.Var(&env, "env", "extra environment K=V (repeatable)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	var payload []byte
	var err error
	switch *event {
	case "":
		payload = []byte("{}")
	case "-":
		payload, err = io.ReadAll(os.Stdin)
	default:
		payload, err = os.ReadFile(*event)
	}
	if err != nil {
		fmt.Fprintf(stderr, "sluice invoke: %v\n", err)
		return 1
	}
	t, err := samtemplate.Load(*tmpl, *stack, nil)
	if err != nil {
		fmt.Fprintf(stderr, "sluice invoke: %v\n", err)
		return 1
	}
	fns, err := t.Functions()
	if err != nil {
		fmt.Fprintf(stderr, "sluice invoke: %v\n", err)
		return 1
	}
	var fn *samtemplate.Function
	var names []string
	for i, f := range fns {
		names = append(names, f.Sluice)
		if f.Sluice == name || f.ID == name || f.Name == name {
			fn = &fns[i]
		}
	}
	if fn == nil {
		fmt.Fprintf(stderr, "sluice invoke: no function %q in %s (have %s)\n", name, *tmpl, strings.Join(names, ", "))
		return 1
	}
	bin := filepath.Join(filepath.Dir(*tmpl), "bin", "invoke", fn.Sluice, "bootstrap")
	build := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-o", bin, "./functions/"+fn.Sluice)
	build.Dir = filepath.Dir(*tmpl)
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(stderr, "sluice invoke: build %s: %v\n%s", fn.Sluice, err, out)
		return 1
	}
	endpoint := os.Getenv("AWS_ENDPOINT_URL")
	if endpoint == "" {
		endpoint = "http://127.0.0.1:4566"
	}
	vars := map[string]string{}
	for k, v := range fn.Env {
		vars[k] = v
	}
	if sms := t.Resources("AWS::Serverless::StateMachine"); len(sms) == 1 && fn.Sluice == "extract" {
		// The template leaves it out (EventBridge starts the machine); a
		// local S3 notification needs it to start one.
		if id, err := accountOf(ctx, endpoint); err == nil {
			t.Account = id
		}
		vars["SLUICE_STATE_MACHINE_ARN"], _ = t.Arn(sms[0].ID)
	}
	for k, v := range env.m {
		vars[k] = v
	}
	envList := []string{"AWS_ENDPOINT_URL=" + endpoint, "AWS_REGION=" + samtemplate.Region, "AWS_EC2_METADATA_DISABLED=true",
		"AWS_RESPONSE_CHECKSUM_VALIDATION=when_required", "AWS_LAMBDA_FUNCTION_NAME=" + fn.Name,
		fmt.Sprintf("AWS_LAMBDA_FUNCTION_MEMORY_SIZE=%d", fn.MemorySize)}
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		v := os.Getenv(k)
		if v == "" {
			v = "testing"
		}
		envList = append(envList, k+"="+v)
	}
	for k, v := range vars {
		envList = append(envList, k+"="+v)
	}
	var logs bytes.Buffer
	p, err := runtimeapi.Spawn(ctx, bin, envList, &logs)
	if err != nil {
		fmt.Fprintf(stderr, "sluice invoke: %v\n%s", err, logs.String())
		return 1
	}
	defer p.Stop()
	began := time.Now()
	out, err := p.Invoke(ctx, payload, time.Duration(fn.Timeout)*time.Second)
	took := time.Since(began)
	stderr.Write(logs.Bytes())
	fmt.Fprintf(stderr, "REPORT function %s init %.1f ms duration %.1f ms memory %d MB\n", fn.Name, float64(p.Init)/1e6, float64(took)/1e6, fn.MemorySize)
	var fe *runtimeapi.FunctionError
	if errors.As(err, &fe) {
		b, _ := json.Marshal(fe)
		fmt.Fprintln(stdout, string(b))
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "sluice invoke: %v\n", err)
		return 1
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, out, "", "  ") == nil {
		out = pretty.Bytes()
	}
	fmt.Fprintln(stdout, string(out))
	return 0
}
