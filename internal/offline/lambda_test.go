package offline

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluice-etl/sluice/internal/buildtest"
	"github.com/sluice-etl/sluice/internal/samtemplate"
)

var bootstraps string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sluice-offline-")
	if err != nil {
		panic(err)
	}
	bootstraps = dir
	if err := buildtest.Bootstraps("../..", dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func newService(t *testing.T, concurrency int) (*Lambda, *httptest.Server) {
	t.Helper()
	tp, err := samtemplate.Load("../../template.yaml", "sluice", nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewLambda(tp, func(o *LambdaOptions) {
		o.BootstrapDir, o.Endpoint, o.Concurrency = bootstraps, "http://127.0.0.1:9", concurrency
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2015-03-31/functions/{name}/invocations", l.ServeInvoke)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); l.Close() })
	return l, srv
}

func call(t *testing.T, srv *httptest.Server, fn, body string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/2015-03-31/functions/"+fn+"/invocations", strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func TestInvokeAPI(t *testing.T) {
	l, srv := newService(t, 4)
	// By name and by ARN; the process stays warm between calls.
	for _, ref := range []string{"sluice-extract-function", "arn:aws:lambda:us-east-1:000000000000:function:sluice-extract-function"} {
		resp, body := call(t, srv, ref, `{"Event":"s3:TestEvent"}`, map[string]string{"X-Amz-Log-Type": "Tail"})
		if resp.StatusCode != 200 || body != `{"started":[],"duplicates":[],"ignored":1}` || resp.Header.Get("X-Amzn-RequestId") == "" ||
			resp.Header.Get("X-Amz-Function-Error") != "" || resp.Header.Get("X-Amz-Log-Result") == "" {
			t.Fatalf("%s: %d %s %v", ref, resp.StatusCode, body, resp.Header)
		}
	}
	// The REPORT line gives the process's peak memory, as Lambda's does.
	resp, _ := call(t, srv, "sluice-extract-function", `{"Event":"s3:TestEvent"}`, map[string]string{"X-Amz-Log-Type": "Tail"})
	logTail, _ := base64.StdEncoding.DecodeString(resp.Header.Get("X-Amz-Log-Result"))
	if m := regexp.MustCompile(`\tMemory Size: [0-9]+ MB\tMax Memory Used: ([1-9][0-9]*) MB\n$`).FindSubmatch(logTail); m == nil {
		t.Fatalf("REPORT line without the peak memory:\n%s", logTail)
	}
	f, _ := l.Function("sluice-extract-function")
	if len(f.idle) != 1 {
		t.Fatalf("%d warm processes, want 1 reused", len(f.idle))
	}
	// A handler error: 200, X-Amz-Function-Error, the error type as Lambda reports it.
	resp, body := call(t, srv, "sluice-extract-function", `{"hello":1}`, nil)
	var fe map[string]string
	json.Unmarshal([]byte(body), &fe)
	if resp.StatusCode != 200 || resp.Header.Get("X-Amz-Function-Error") != "Unhandled" || fe["errorType"] == "" || !strings.Contains(fe["errorMessage"], "unsupported event") {
		t.Fatalf("handler error: %d %s %v", resp.StatusCode, body, resp.Header)
	}
	// Unknown function.
	resp, body = call(t, srv, "nope", `{}`, nil)
	if resp.StatusCode != 404 || resp.Header.Get("X-Amzn-ErrorType") != "ResourceNotFoundException" || resp.Header.Get("X-Amzn-RequestId") == "" || !strings.Contains(body, "Function not found") {
		t.Fatalf("unknown: %d %s %v", resp.StatusCode, body, resp.Header)
	}
	// Event and DryRun invocations.
	if resp, _ := call(t, srv, "sluice-extract-function", `{"Event":"s3:TestEvent"}`, map[string]string{"X-Amz-Invocation-Type": "Event"}); resp.StatusCode != 202 {
		t.Fatalf("event: %d", resp.StatusCode)
	}
	if resp, _ := call(t, srv, "sluice-extract-function", `{}`, map[string]string{"X-Amz-Invocation-Type": "DryRun"}); resp.StatusCode != 204 {
		t.Fatalf("dry run: %d", resp.StatusCode)
	}
	// Over 6 MB.
	if resp, _ := call(t, srv, "sluice-extract-function", `"`+strings.Repeat("x", 6<<20)+`"`, nil); resp.StatusCode != 413 {
		t.Fatalf("large payload: %d", resp.StatusCode)
	}
}

func TestTimeoutKillsTheProcess(t *testing.T) {
	l, srv := newService(t, 4)
	f, _ := l.Function("sluice-load-function")
	f.Configure(func(c *FunctionConfig) { c.Timeout = time.Microsecond })
	resp, body := call(t, srv, "sluice-load-function", `{"action":"bogus"}`, nil)
	if resp.StatusCode != 200 || resp.Header.Get("X-Amz-Function-Error") != "Unhandled" || !strings.Contains(body, "Task timed out after") || strings.Contains(body, "errorType") {
		t.Fatalf("timeout: %d %s", resp.StatusCode, body)
	}
	if len(f.idle) != 0 {
		t.Fatalf("a timed-out process was kept warm")
	}
}

func TestThrottleWhenEverySlotIsBusy(t *testing.T) {
	l, srv := newService(t, 1)
	l.sem <- struct{}{} // one invocation in flight
	resp, body := call(t, srv, "sluice-extract-function", `{"Event":"s3:TestEvent"}`, nil)
	if resp.StatusCode != 429 || resp.Header.Get("X-Amzn-ErrorType") != "TooManyRequestsException" {
		t.Fatalf("throttle: %d %s", resp.StatusCode, body)
	}
	<-l.sem
	if resp, _ := call(t, srv, "sluice-extract-function", `{"Event":"s3:TestEvent"}`, nil); resp.StatusCode != 200 {
		t.Fatalf("after the slot freed: %d", resp.StatusCode)
	}
}
