package offline

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Limits of what a deployment may upload. The unzipped limit is
// Lambda's, 250 MB. The request's is larger than Lambda's 50 MB of zip in
// the request: SAM uploads through S3, while local deploys send the
// bootstrap stored, not deflated, in the request, base64 in JSON.
const (
	maxUnzippedBytes = 250 << 20
	maxControlBody   = maxUnzippedBytes*4/3 + 1<<20
)

// functionRequest is the part of a CreateFunction, UpdateFunctionCode or
// UpdateFunctionConfiguration request the offline service applies.
type functionRequest struct {
	FunctionName string
	// Code is CreateFunction's; UpdateFunctionCode puts its fields at
	// the top level.
	Code *codeRequest
	codeRequest
	Environment *struct{ Variables map[string]string }
	Timeout     *int
	MemorySize  *int
}

type codeRequest struct {
	ZipFile  []byte
	S3Bucket string
	S3Key    string
}

func (c *codeRequest) empty() bool { return c == nil || (len(c.ZipFile) == 0 && c.S3Key == "") }

// Control answers the Lambda control-plane calls that change what runs:
// CreateFunction, UpdateFunctionCode and UpdateFunctionConfiguration. It
// hands each to next (moto, which keeps what GetFunction answers) and,
// when next accepts it, applies it to the functions this service runs,
// as LocalStack does: a redeploy takes effect at the next invocation.
func (l *Lambda) Control(next http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2015-03-31/functions", func(w http.ResponseWriter, r *http.Request) {
		l.control(w, r, next, "")
	})
	for _, op := range []string{"configuration", "code"} {
		mux.HandleFunc("PUT /2015-03-31/functions/{name}/"+op, func(w http.ResponseWriter, r *http.Request) {
			l.control(w, r, next, r.PathValue("name"))
		})
	}
	mux.Handle("/", next)
	return mux
}

// control checks and unpacks a control-plane request's code, forwards
// the request, and applies it when next accepts it.
func (l *Lambda) control(w http.ResponseWriter, r *http.Request, next http.Handler, name string) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxControlBody+1))
	if err != nil || len(body) > maxControlBody {
		writeAPIError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException", "request larger than the offline stack accepts")
		return
	}
	var req functionRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeAPIError(w, http.StatusBadRequest, "InvalidParameterValueException", "request body: "+err.Error())
		return
	}
	if name != "" {
		req.FunctionName = name
	}
	bootstrap, err := l.code(r, next, req)
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, "InvalidParameterValueException", err.Error())
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, r)
	if err := l.settle(r.Method, req, bootstrap, rec); err != nil {
		writeAPIError(w, http.StatusNotFound, "ResourceNotFoundException", err.Error())
		return
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

// code unpacks the bootstrap a request uploads ("" when it uploads none).
func (l *Lambda) code(r *http.Request, next http.Handler, req functionRequest) (string, error) {
	code := req.Code
	if code == nil {
		code = &req.codeRequest
	}
	if code.empty() {
		return "", nil
	}
	zipped, err := l.codeBytes(r, next, code)
	if err == nil {
		var bootstrap string
		if bootstrap, err = l.unpack(req.FunctionName, zipped); err == nil {
			return bootstrap, nil
		}
	}
	return "", fmt.Errorf("function %s code: %w", req.FunctionName, err)
}

// settle applies a request that next accepted; one it refused leaves the
// function as it was and its unpacked code is removed.
func (l *Lambda) settle(method string, req functionRequest, bootstrap string, answer *httptest.ResponseRecorder) error {
	if answer.Code/100 != 2 {
		if bootstrap != "" {
			os.RemoveAll(filepath.Dir(bootstrap))
		}
		return nil
	}
	change := func(c *FunctionConfig) {
		if bootstrap != "" {
			c.Bootstrap = bootstrap
		}
		if req.Environment != nil {
			c.Env = req.Environment.Variables
		}
		if req.Timeout != nil {
			c.Timeout = time.Duration(*req.Timeout) * time.Second
		}
		if req.MemorySize != nil {
			c.Memory = *req.MemorySize
		}
	}
	if method == http.MethodPost {
		var created struct{ FunctionArn string }
		json.Unmarshal(answer.Body.Bytes(), &created)
		cfg := FunctionConfig{Timeout: 3 * time.Second, Memory: 128}
		change(&cfg)
		l.add(req.FunctionName, created.FunctionArn, cfg)
		return nil
	}
	f, ok := l.Function(req.FunctionName)
	if !ok {
		return fmt.Errorf("the offline Lambda service runs no function %q", req.FunctionName)
	}
	f.Configure(change)
	return nil
}

// codeBytes is the zip a request carries, or the S3 object it names,
// read through next.
func (l *Lambda) codeBytes(r *http.Request, next http.Handler, c *codeRequest) ([]byte, error) {
	if len(c.ZipFile) > 0 {
		return c.ZipFile, nil
	}
	get := httptest.NewRequestWithContext(r.Context(), http.MethodGet, "/"+c.S3Bucket+"/"+c.S3Key, nil)
	get.Host = r.Host
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, get)
	if rec.Code != http.StatusOK {
		return nil, fmt.Errorf("get s3://%s/%s: status %d", c.S3Bucket, c.S3Key, rec.Code)
	}
	return rec.Body.Bytes(), nil
}

// unpack writes the zip's bootstrap into a folder of its own and returns
// its path.
func (l *Lambda) unpack(name string, zipped []byte) (string, error) {
	zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if err != nil {
		return "", fmt.Errorf("read zip: %w", err)
	}
	var boot *zip.File
	for _, f := range zr.File {
		if f.Name == "bootstrap" {
			boot = f
		}
	}
	if boot == nil {
		return "", errors.New("the zip holds no bootstrap")
	}
	dir, err := l.codeDir(name)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "bootstrap")
	if err := writeBootstrap(boot, path); err != nil {
		return "", err
	}
	return path, nil
}

// codeDir makes a new folder for one upload of function name.
func (l *Lambda) codeDir(name string) (string, error) {
	l.fmu.Lock()
	defer l.fmu.Unlock()
	if l.codeRoot == "" {
		d, err := os.MkdirTemp("", "sluice-offline-code-")
		if err != nil {
			return "", fmt.Errorf("code folder: %w", err)
		}
		l.codeRoot = d
	}
	l.codeSeq++
	dir := filepath.Join(l.codeRoot, name+"-"+strconv.Itoa(l.codeSeq))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", fmt.Errorf("code folder: %w", err)
	}
	return dir, nil
}

// writeBootstrap unzips f into path, executable, within the unzipped limit.
func writeBootstrap(f *zip.File, path string) error {
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("open bootstrap in zip: %w", err)
	}
	defer rc.Close()
	out, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		return fmt.Errorf("write bootstrap: %w", err)
	}
	n, err := io.Copy(out, io.LimitReader(rc, maxUnzippedBytes+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > maxUnzippedBytes {
		err = fmt.Errorf("bootstrap is larger than %d bytes unzipped", maxUnzippedBytes)
	}
	if err != nil {
		return fmt.Errorf("write bootstrap: %w", err)
	}
	return nil
}
