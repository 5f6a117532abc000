package offline

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"github.com/sluice-etl/sluice/shared/handler"
)

// fakeControl stands in for moto's Lambda control plane: it accepts
// (or, when refuse is set, refuses) every call and counts them.
type fakeControl struct {
	refuse atomic.Bool
	calls  atomic.Int32
}

func (m *fakeControl) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.calls.Add(1)
	io.Copy(io.Discard, r.Body)
	if m.refuse.Load() {
		writeAPIError(w, http.StatusConflict, "ResourceConflictException", "refused")
		return
	}
	var name string
	if r.Method == http.MethodPost {
		name = "created"
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{"FunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:" + name})
}

func controlService(t *testing.T) (*Lambda, *fakeControl, *lambda.Client) {
	t.Helper()
	l, _ := newService(t, 4)
	moto := &fakeControl{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2015-03-31/functions/{name}/invocations", l.ServeInvoke)
	mux.Handle("/", l.Control(moto))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c := lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: aws.AnonymousCredentials{}, RetryMaxAttempts: 1})
	return l, moto, c
}

// warm counts the function's idle processes.
func (f *Function) warm() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.idle)
}

// zipOf zips the named bootstrap of the test build as "bootstrap".
func zipOf(t *testing.T, function string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(bootstraps, function, "bootstrap"))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, _ := zw.Create("bootstrap")
	w.Write(data)
	zw.Close()
	return b.Bytes()
}

// errorTypeOf invokes fn with payload and returns the function error's type.
func errorTypeOf(t *testing.T, c *lambda.Client, fn, payload string) string {
	t.Helper()
	out, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String(fn), Payload: []byte(payload)})
	if err != nil {
		t.Fatalf("invoke %s: %v", fn, err)
	}
	var fe struct{ ErrorType string }
	json.Unmarshal(out.Payload, &fe)
	if aws.ToString(out.FunctionError) == "" {
		return ""
	}
	return fe.ErrorType
}

func TestConfigurationUpdateTakesEffect(t *testing.T) {
	l, moto, c := controlService(t)
	const fn = "sluice-extract-function"
	ref := `{"bucket":"sluice-input-bucket","key":"mine/a.csv"}`
	if got := errorTypeOf(t, c, fn, ref); got != handler.ConfigErrorType {
		t.Fatalf("before the update: error type %q, want %s", got, handler.ConfigErrorType)
	}
	f, _ := l.Function(fn)
	env := maps.Clone(f.Config().Env)
	env["SLUICE_SPECS"] = `{"mine/":"bundled:orders"}`
	_, err := c.UpdateFunctionConfiguration(context.Background(), &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(fn),
		Environment: &lambdatypes.Environment{Variables: env}, Timeout: aws.Int32(77), MemorySize: aws.Int32(512)})
	if err != nil {
		t.Fatal(err)
	}
	cfg := f.Config()
	if cfg.Env["SLUICE_SPECS"] != env["SLUICE_SPECS"] || cfg.Timeout.Seconds() != 77 || cfg.Memory != 512 || f.warm() != 0 {
		t.Fatalf("after the update: %+v, %d warm processes", cfg, f.warm())
	}
	// The new process has a spec for the key: it gets as far as the
	// (unreachable) AWS endpoint, which is no configuration error.
	if got := errorTypeOf(t, c, fn, ref); got == handler.ConfigErrorType || got == "" {
		t.Fatalf("after the update: error type %q, want the unreachable endpoint's", got)
	}
	if moto.calls.Load() != 1 {
		t.Fatalf("moto saw %d calls, want the update forwarded once", moto.calls.Load())
	}
}

func TestCodeUpdateAndCreateTakeEffect(t *testing.T) {
	l, _, c := controlService(t)
	const fn = "sluice-extract-function"
	f, _ := l.Function(fn)
	before := f.Config().Bootstrap
	if _, err := c.UpdateFunctionCode(context.Background(), &lambda.UpdateFunctionCodeInput{FunctionName: aws.String(fn), ZipFile: zipOf(t, "extract")}); err != nil {
		t.Fatal(err)
	}
	after := f.Config().Bootstrap
	if after == before || !strings.HasPrefix(after, l.codeRoot) {
		t.Fatalf("bootstrap %s after the code update (was %s)", after, before)
	}
	if got := errorTypeOf(t, c, fn, `{"Event":"s3:TestEvent"}`); got != "" {
		t.Fatalf("the new code failed: %s", got)
	}
	_, err := c.CreateFunction(context.Background(), &lambda.CreateFunctionInput{FunctionName: aws.String("mine"), Role: aws.String("r"),
		Code: &lambdatypes.FunctionCode{ZipFile: zipOf(t, "extract")}, Environment: &lambdatypes.Environment{Variables: f.Config().Env}})
	if err != nil {
		t.Fatal(err)
	}
	mine, ok := l.Function("mine")
	if !ok || mine.Arn != "arn:aws:lambda:us-east-1:000000000000:function:created" || mine.Config().Memory != 128 {
		t.Fatalf("created: %v %+v", ok, mine)
	}
	if got := errorTypeOf(t, c, "mine", `{"Event":"s3:TestEvent"}`); got != "" {
		t.Fatalf("the created function failed: %s", got)
	}
}

func TestRefusedOrBadDeploymentsChangeNothing(t *testing.T) {
	l, moto, c := controlService(t)
	const fn = "sluice-extract-function"
	f, _ := l.Function(fn)
	before := f.Config()
	moto.refuse.Store(true)
	_, err := c.UpdateFunctionConfiguration(context.Background(), &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(fn), Timeout: aws.Int32(5)})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ResourceConflictException" || f.Config().Timeout != before.Timeout {
		t.Fatalf("refused update: %v, timeout %v", err, f.Config().Timeout)
	}
	moto.refuse.Store(false)
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, _ := zw.Create("main")
	w.Write([]byte("not a bootstrap"))
	zw.Close()
	_, err = c.UpdateFunctionCode(context.Background(), &lambda.UpdateFunctionCodeInput{FunctionName: aws.String(fn), ZipFile: b.Bytes()})
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidParameterValueException" || !strings.Contains(ae.ErrorMessage(), "the zip holds no bootstrap") {
		t.Fatalf("zip without a bootstrap: %v", err)
	}
	if f.Config().Bootstrap != before.Bootstrap || moto.calls.Load() != 1 {
		t.Fatalf("a bad zip changed the bootstrap to %s, or reached moto (%d calls)", f.Config().Bootstrap, moto.calls.Load())
	}
}
