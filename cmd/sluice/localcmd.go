package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/sluice-etl/sluice/internal/localdeploy"
	"github.com/sluice-etl/sluice/internal/offline"
	"github.com/sluice-etl/sluice/internal/samtemplate"
)

// cmdLocal is `sluice local deploy`: create the template's resources on a
// local AWS endpoint (LocalStack, or the offline stack's moto).
func cmdLocal(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "up" {
		return cmdLocalUp(ctx, args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "deploy" {
		fmt.Fprintln(stderr, "usage: sluice local deploy [--endpoint URL] [--template template.yaml] [--stack sluice] [--bootstrap-dir bin/lambda] [--arch x86_64] [--param K=V]...")
		return 2
	}
	return exit(stderr, "sluice local deploy", localDeploy(ctx, args[1:], stdout, stderr))
}

func localDeploy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("local deploy", stderr)
	endpoint := fs.String("endpoint", "", "AWS endpoint (default: AWS_ENDPOINT_URL)")
	tmpl := fs.String("template", "template.yaml", "SAM template")
	stack := fs.String("stack", "sluice", "stack name: the prefix of every local resource name")
	bootstraps := fs.String("bootstrap-dir", "bin/lambda", "directory of <function>/bootstrap (make lambdas)")
	arch := fs.String("arch", "", "override the functions' architecture")
	var params paramFlags
	fs.Var(&params, "param", "template parameter override K=V (repeatable)")
	if err := fs.Parse(args); err != nil {
		return errFlags
	}
	t, err := samtemplate.Load(*tmpl, *stack, params.m)
	if err != nil {
		return err
	}
	cfg, err := awsConfig(ctx, *endpoint, config.WithRegion(samtemplate.Region))
	if err != nil {
		return err
	}
	// The endpoint's account goes into every ARN the template resolves.
	if t.Account, err = localdeploy.Account(ctx, cfg); err != nil {
		return err
	}
	return localdeploy.Deploy(ctx, t, localdeploy.NewClients(cfg), localdeploy.Options{BootstrapDir: *bootstraps, Arch: *arch, Log: stdout})
}

type paramFlags struct{ m map[string]string }

func (p *paramFlags) String() string { return fmt.Sprint(p.m) }

func (p *paramFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("want K=V, got %q", s)
	}
	if p.m == nil {
		p.m = map[string]string{}
	}
	p.m[k] = v
	return nil
}

// cmdLocalUp runs the offline stack in the foreground until interrupted:
// moto behind one endpoint that also serves the Lambda Invoke API with
// the real bootstraps, the template deployed, and the S3 → state machine
// glue running.
func cmdLocalUp(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("local up", stderr)
	addr := fs.String("addr", "127.0.0.1:4566", "endpoint address")
	repo := fs.String("repo", ".", "repository root (template.yaml, bin/lambda)")
	concurrency := fs.Int("concurrency", 10, "Lambda invocations in flight")
	verbose := fs.Bool("v", false, "debug logging")
	var params paramFlags
	fs.Var(&params, "param", "template parameter override K=V (repeatable), as sam deploy --parameter-overrides")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	st, err := offline.Up(ctx, offline.Options{Addr: *addr, Repo: *repo, Params: params.m, Concurrency: *concurrency, Log: log, FunctionLogs: stderr})
	if err != nil {
		fmt.Fprintf(stderr, "sluice local up: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "offline stack ready at %s\n", st.Endpoint)
	<-ctx.Done()
	st.Down()
	return 0
}

// awsConfig loads the SDK's configuration, pointed at endpoint when one
// is given (else AWS_ENDPOINT_URL, else AWS).
func awsConfig(ctx context.Context, endpoint string, opts ...func(*config.LoadOptions) error) (aws.Config, error) {
	if endpoint != "" {
		opts = append(opts, config.WithBaseEndpoint(endpoint))
	}
	return config.LoadDefaultConfig(ctx, opts...)
}

// accountOf asks the endpoint which account it serves.
func accountOf(ctx context.Context, endpoint string) (string, error) {
	opts := []func(*config.LoadOptions) error{config.WithBaseEndpoint(endpoint), config.WithRegion(samtemplate.Region)}
	if os.Getenv("AWS_ACCESS_KEY_ID") == "" {
		opts = append(opts, config.WithCredentialsProvider(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "testing", SecretAccessKey: "testing"}, nil
		})))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return "", err
	}
	return localdeploy.Account(ctx, cfg)
}
