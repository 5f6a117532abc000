package runtimeapi_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-etl/sluice/internal/buildtest"
	"github.com/sluice-etl/sluice/internal/runtimeapi"
	"github.com/sluice-etl/sluice/shared/core/enum"
	"github.com/sluice-etl/sluice/shared/handler"
)

var binDir string

// TestMain builds the four real bootstraps once, as `make lambdas` does
// but for this machine's architecture.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sluice-bootstraps-")
	if err != nil {
		panic(err)
	}
	binDir = dir
	if err := buildtest.Bootstraps("../..", dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var env = []string{
	`SLUICE_SPECS={"incoming/orders/":"bundled:orders"}`, "SLUICE_STAGING_BUCKET=staging",
	"SLUICE_OUTPUT_BUCKET=output", "SLUICE_METRICS_TABLE=metrics",
	"SLUICE_WAREHOUSE=s3://output/warehouse", "SLUICE_GLUE_DATABASE=sluice",
	"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing",
	"AWS_ENDPOINT_URL=http://127.0.0.1:9", "AWS_EC2_METADATA_DISABLED=true",
}

func spawn(t testing.TB, fn string, env []string) *runtimeapi.Process {
	t.Helper()
	var logs bytes.Buffer
	p, err := runtimeapi.Spawn(context.Background(), filepath.Join(binDir, fn, "bootstrap"), env, &logs)
	if err != nil {
		t.Fatalf("spawn %s: %v\n%s", fn, err, logs.String())
	}
	t.Cleanup(p.Stop)
	return p
}

func TestBootstrapsAnswerThroughTheRuntimeAPI(t *testing.T) {
	ctx := context.Background()
	ex := spawn(t, "extract", env)
	out, err := ex.Invoke(ctx, []byte(`{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"input"}`), 5*time.Second)
	if err != nil || string(out) != `{"started":[],"duplicates":[],"ignored":1}` {
		t.Fatalf("extract: %s, %v", out, err)
	}
	// Warm: the same process answers again.
	if out2, err := ex.Invoke(ctx, []byte(`{"Event":"s3:TestEvent"}`), 5*time.Second); err != nil || !bytes.Equal(out, out2) {
		t.Fatalf("warm extract: %s, %v", out2, err)
	}
	_, err = ex.Invoke(ctx, []byte(`{"hello":"world"}`), 5*time.Second)
	var fe *runtimeapi.FunctionError
	if !errors.As(err, &fe) || !strings.Contains(fe.Message, "unsupported event") || fe.Type == "" {
		t.Fatalf("extract bad event: %v", err)
	}

	ld := spawn(t, "load", env)
	_, err = ld.Invoke(ctx, []byte(`{"action":"bogus"}`), 5*time.Second)
	if !errors.As(err, &fe) || fe.Message != `load: unknown action "bogus" (want load, finalize or fail)` {
		t.Fatalf("load bad action: %v", err)
	}
	tr := spawn(t, "transform", env)
	_, err = tr.Invoke(ctx, []byte(`{"staging_bucket":"elsewhere","job_key":"runs/x/job.json"}`), 5*time.Second)
	if !errors.As(err, &fe) || !strings.Contains(fe.Message, `staging bucket "elsewhere" is not the configured "staging"`) {
		t.Fatalf("transform wrong bucket: %v", err)
	}
}

func TestMissingEnvironmentFailsInit(t *testing.T) {
	var logs bytes.Buffer
	_, err := runtimeapi.Spawn(context.Background(), filepath.Join(binDir, "load", "bootstrap"), env[:2], &logs)
	if !errors.Is(err, runtimeapi.ErrInitFailed) || !strings.Contains(logs.String(), "SLUICE_METRICS_TABLE, SLUICE_OUTPUT_BUCKET") {
		t.Fatalf("err = %v, logs %s", err, logs.String())
	}
}

// The commit function, the one that links iceberg-go, starts and answers
// through the Runtime API: an operation it does not know, and a spec the
// deployment does not run, are function errors that say so, before any
// catalog call.
func TestCommitBootstrapAnswers(t *testing.T) {
	ctx := context.Background()
	c := spawn(t, "commit", env)
	for payload, want := range map[string]string{
		`{"op":"drop","spec":"bundled:orders"}`:                              `unknown operation "drop" (want ` + enum.List(handler.LakeOps.Values) + `)`,
		`{"op":"prepare","spec":"s3://elsewhere/spec.yaml","spec_hash":"x"}`: "spec s3://elsewhere/spec.yaml is not one this deployment runs",
		`{"op":"prepare","spec":"bundled:orders","spec_hash":"x"}`:           "spec bundled:orders changed during the run",
	} {
		_, err := c.Invoke(ctx, []byte(payload), 10*time.Second)
		var fe *runtimeapi.FunctionError
		if !errors.As(err, &fe) || !strings.Contains(fe.Message, want) {
			t.Errorf("commit %s: %v, want a function error with %q", payload, err, want)
		}
	}
}

// BenchmarkColdInit measures process start to the first GET .../next, the
// init a cold Lambda pays before the handler runs.
func BenchmarkColdInit(b *testing.B) {
	for _, fn := range buildtest.Functions {
		b.Run(fn, func(b *testing.B) {
			var total time.Duration
			for b.Loop() {
				p := spawn(b, fn, env)
				total += p.Init
				p.Stop()
			}
			b.ReportMetric(float64(total.Microseconds())/float64(b.N)/1000, "init-ms")
		})
	}
}

// BenchmarkWarmInvoke measures a full Runtime API round trip to a warm
// extract process on an event it answers without AWS calls.
func BenchmarkWarmInvoke(b *testing.B) {
	p := spawn(b, "extract", env)
	ev := []byte(`{"Event":"s3:TestEvent"}`)
	for b.Loop() {
		if _, err := p.Invoke(context.Background(), ev, 5*time.Second); err != nil {
			b.Fatal(err)
		}
	}
}
