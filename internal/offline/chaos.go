package offline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// FunctionAccessKey is the access key id the stack's functions sign
// with. Chaos faults hit only requests signed with it, so a test's own
// uploads and checks go through untouched.
const FunctionAccessKey = "SLUICEFUNCTION"

// Chaos is a fault plan: the share (0 to 1) of the functions' requests or
// invocations that meet each fault. It is off unless a test posts one to
// /_sluice/chaos or sets Options.Chaos. Decisions come from one generator
// seeded with Seed, so a plan replays the same sequence of decisions;
// which concurrent request meets which decision follows their arrival
// order.
type Chaos struct {
	Seed uint64 `json:"seed"`
	// S3Errors answers S3 requests with 500 InternalError or 503 SlowDown.
	S3Errors float64 `json:"s3_errors,omitempty"`
	// DynamoThrottle answers DynamoDB requests with
	// ProvisionedThroughputExceededException or ThrottlingException.
	DynamoThrottle float64 `json:"dynamodb_throttle,omitempty"`
	// Unprocessed makes BatchWriteItem write only the first half of its
	// items and hand the rest back as UnprocessedItems.
	Unprocessed float64 `json:"unprocessed_items,omitempty"`
	// Delay holds S3 and DynamoDB requests for DelayMS before passing them
	// on; with FunctionTimeoutMS below it, the invocation times out.
	Delay   float64 `json:"delay,omitempty"`
	DelayMS int     `json:"delay_ms,omitempty"`
	// FunctionTimeoutMS, when set, replaces every function's timeout
	// while the plan is on.
	FunctionTimeoutMS int `json:"function_timeout_ms,omitempty"`
	// LambdaThrottle answers invocations with 429 TooManyRequestsException.
	LambdaThrottle float64 `json:"lambda_throttle,omitempty"`
	// Kill kills the function's process part way through an invocation
	// (after 0 to KillWithinMS, default 300).
	Kill         float64 `json:"kill,omitempty"`
	KillWithinMS int     `json:"kill_within_ms,omitempty"`
	// Functions limits LambdaThrottle and Kill to these functions (names
	// or suffixes such as "load-function"); empty: all.
	Functions []string `json:"functions,omitempty"`
	// DuplicateS3 delivers an S3 event twice (a second execution).
	DuplicateS3 float64 `json:"duplicate_s3_events,omitempty"`
	// DuplicateKinesis delivers a Kinesis batch again after it succeeded.
	DuplicateKinesis float64 `json:"duplicate_kinesis_batches,omitempty"`
}

// Fault class names, as ChaosStats counts them.
const (
	FaultS3Error        = "s3_error"
	FaultS3SlowDown     = "s3_slowdown"
	FaultDynamoThrottle = "dynamodb_throttle"
	FaultUnprocessed    = "unprocessed_items"
	FaultDelay          = "delay"
	FaultLambdaThrottle = "lambda_throttle"
	FaultKill           = "kill"
	FaultDuplicateS3    = "duplicate_s3_event"
	FaultDuplicateBatch = "duplicate_kinesis_batch"
)

// chaos holds the plan in force and counts the faults injected.
type chaos struct {
	mu    sync.Mutex
	plan  *Chaos
	rng   *rand.Rand
	stats map[string]int64
}

// ChaosState is what GET /_sluice/chaos answers.
type ChaosState struct {
	Plan     *Chaos           `json:"plan"`
	Injected map[string]int64 `json:"injected"`
}

func (c *chaos) set(p *Chaos) error {
	if p != nil {
		for name, v := range map[string]float64{"s3_errors": p.S3Errors, "dynamodb_throttle": p.DynamoThrottle, "unprocessed_items": p.Unprocessed,
			"delay": p.Delay, "lambda_throttle": p.LambdaThrottle, "kill": p.Kill, "duplicate_s3_events": p.DuplicateS3, "duplicate_kinesis_batches": p.DuplicateKinesis} {
			if v < 0 || v > 1 {
				return fmt.Errorf("chaos: %s must be a share from 0 to 1, not %g", name, v)
			}
		}
		if p.Delay > 0 && p.DelayMS <= 0 {
			return fmt.Errorf("chaos: delay needs delay_ms")
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.plan, c.stats = p, map[string]int64{}
	if p != nil {
		c.rng = rand.New(rand.NewPCG(p.Seed, p.Seed^0x5eed))
	}
	return nil
}

func (c *chaos) state() ChaosState {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := ChaosState{Plan: c.plan, Injected: map[string]int64{}}
	for k, v := range c.stats {
		st.Injected[k] = v
	}
	return st
}

// roll decides one fault: share is read from the plan under the lock.
func (c *chaos) roll(share func(*Chaos) float64, class string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.plan == nil {
		return false
	}
	s := share(c.plan)
	if s <= 0 || c.rng.Float64() >= s {
		return false
	}
	c.stats[class]++
	return true
}

// intn draws from the plan's generator.
func (c *chaos) intn(n int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rng == nil || n <= 0 {
		return 0
	}
	return c.rng.IntN(n)
}

func (c *chaos) count(class string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stats[class]++
}

func (c *chaos) current() *Chaos {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.plan
}

// forFunction reports whether the plan's function faults apply to name.
func (p *Chaos) forFunction(name string) bool {
	if len(p.Functions) == 0 {
		return true
	}
	for _, f := range p.Functions {
		if name == f || strings.HasSuffix(name, f) {
			return true
		}
	}
	return false
}

// ServeHTTP serves GET, POST and DELETE /_sluice/chaos.
func (c *chaos) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
		var p Chaos
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := c.set(&p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	case http.MethodDelete:
		_ = c.set(nil)
	case http.MethodGet:
	default:
		http.Error(w, "GET, POST or DELETE", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(c.state())
}

// signedBy returns the access key id and service of a SigV4 request.
func signedBy(r *http.Request) (key, service string) {
	auth := r.Header.Get("Authorization")
	i := strings.Index(auth, "Credential=")
	if i < 0 {
		return "", ""
	}
	cred := auth[i+len("Credential="):]
	if j := strings.IndexAny(cred, ", "); j >= 0 {
		cred = cred[:j]
	}
	parts := strings.Split(cred, "/")
	if len(parts) < 4 {
		return parts[0], ""
	}
	return parts[0], parts[3]
}

// wrap puts the plan's S3 and DynamoDB faults in front of next, for the
// functions' requests only.
func (c *chaos) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, service := signedBy(r)
		if key != FunctionAccessKey || c.current() == nil {
			next.ServeHTTP(w, r)
			return
		}
		switch service {
		case "s3":
			if c.roll(func(p *Chaos) float64 { return p.S3Errors }, FaultS3Error) {
				if c.intn(2) == 0 {
					s3Fault(w, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
				} else {
					c.count(FaultS3SlowDown)
					s3Fault(w, http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate.")
				}
				return
			}
		case "dynamodb":
			if c.roll(func(p *Chaos) float64 { return p.DynamoThrottle }, FaultDynamoThrottle) {
				typ, msg := "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException", "The level of configured provisioned throughput for the table was exceeded."
				if c.intn(2) == 1 {
					typ, msg = "com.amazon.coral.availability#ThrottlingException", "Rate of requests exceeds the allowed throughput."
				}
				w.Header().Set("Content-Type", "application/x-amz-json-1.0")
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprintf(w, `{"__type":%q,"message":%q}`, typ, msg)
				return
			}
			if strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".BatchWriteItem") &&
				c.roll(func(p *Chaos) float64 { return p.Unprocessed }, FaultUnprocessed) {
				c.unprocessed(w, r, next)
				return
			}
		}
		if service == "s3" || service == "dynamodb" {
			if c.roll(func(p *Chaos) float64 { return p.Delay }, FaultDelay) {
				if p := c.current(); p != nil {
					select {
					case <-time.After(time.Duration(p.DelayMS) * time.Millisecond):
					case <-r.Context().Done():
						return
					}
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

func s3Fault(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message><RequestId>sluice-chaos</RequestId></Error>`, code, msg)
}

// unprocessed passes the first half of each table's write requests on
// and hands the rest back as UnprocessedItems, as a throttled table does.
func (c *chaos) unprocessed(w http.ResponseWriter, r *http.Request, next http.Handler) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var in struct {
		RequestItems map[string][]json.RawMessage
	}
	var rest map[string]json.RawMessage
	if json.Unmarshal(body, &in) != nil || json.Unmarshal(body, &rest) != nil {
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
		return
	}
	held := map[string][]json.RawMessage{}
	for table, reqs := range in.RequestItems {
		keep := (len(reqs) + 1) / 2
		if keep < len(reqs) {
			held[table] = reqs[keep:]
		}
		in.RequestItems[table] = reqs[:keep]
	}
	rest["RequestItems"], _ = json.Marshal(in.RequestItems)
	body, _ = json.Marshal(rest)
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.Header.Set("Content-Length", strconv.Itoa(len(body)))
	rec := &respRecorder{header: http.Header{}, status: http.StatusOK}
	next.ServeHTTP(rec, r)
	var out map[string]json.RawMessage
	if rec.status != http.StatusOK || json.Unmarshal(rec.body.Bytes(), &out) != nil {
		copyResponse(w, rec)
		return
	}
	unproc := map[string][]json.RawMessage{}
	if u, ok := out["UnprocessedItems"]; ok {
		_ = json.Unmarshal(u, &unproc)
	}
	for table, reqs := range held {
		unproc[table] = append(unproc[table], reqs...)
	}
	out["UnprocessedItems"], _ = json.Marshal(unproc)
	b, _ := json.Marshal(out)
	rec.header.Del("Content-Length")
	rec.header.Del("X-Amz-Crc32") // the body changed
	rec.body.Reset()
	rec.body.Write(b)
	copyResponse(w, rec)
}

// respRecorder keeps a response to be rewritten.
type respRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *respRecorder) Header() http.Header         { return r.header }
func (r *respRecorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *respRecorder) WriteHeader(status int)      { r.status = status }

func copyResponse(w http.ResponseWriter, rec *respRecorder) {
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(rec.body.Len()))
	w.WriteHeader(rec.status)
	w.Write(rec.body.Bytes())
}
