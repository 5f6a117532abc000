// Package handler holds the Lambda handlers of the extract, transform and
// load functions. The functions' mains only read the environment into
// Settings, create AWS clients once per cold start, and pass both here.
// Handlers are tested in-process with in-memory buckets.
package handler

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluice-etl/sluice/examples"
	"github.com/sluice-etl/sluice/shared/adapter/claims"
	"github.com/sluice-etl/sluice/shared/adapter/metrics"
	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/core/spec"
	"github.com/sluice-etl/sluice/shared/pipeline/batch"
	"github.com/sluice-etl/sluice/shared/pipeline/output"
)

// Environment variables the functions read. EnvByFunction says which
// function reads which; `sluice lint` checks template.yaml against it.
const (
	EnvSpecs            = "SLUICE_SPECS"
	EnvStagingBucket    = "SLUICE_STAGING_BUCKET"
	EnvOutputBucket     = "SLUICE_OUTPUT_BUCKET"
	EnvOutputPrefix     = "SLUICE_OUTPUT_PREFIX"
	EnvStateMachineArn  = "SLUICE_STATE_MACHINE_ARN"
	EnvMetricsTable     = "SLUICE_METRICS_TABLE"
	EnvChunkBytes       = "SLUICE_CHUNK_BYTES"
	EnvMaxInlineChunks  = "SLUICE_MAX_INLINE_CHUNKS"
	EnvMaxConcurrency   = "SLUICE_MAX_CONCURRENCY"
	EnvIdempotencyTable = "SLUICE_IDEMPOTENCY_TABLE"
	EnvStreamSpecs      = "SLUICE_STREAM_SPECS"
	EnvWindowTable      = "SLUICE_WINDOW_TABLE"
	EnvDebugSample      = "SLUICE_DEBUG_SAMPLE"
	EnvCommitFunction   = "SLUICE_COMMIT_FUNCTION"
	EnvWarehouse        = "SLUICE_WAREHOUSE"
	EnvGlueDatabase     = "SLUICE_GLUE_DATABASE"
	// EnvStack names the deployment in the EMF metrics' dimensions.
	EnvStack = "SLUICE_STACK"
)

// EnvByFunction lists, per function, the variables it requires (true) or
// reads when set (false).
var EnvByFunction = map[string]map[string]bool{
	"extract": {EnvSpecs: true, EnvStagingBucket: true, EnvStateMachineArn: false, EnvChunkBytes: false, EnvMaxInlineChunks: false, EnvMaxConcurrency: false, EnvIdempotencyTable: false,
		EnvStreamSpecs: false, EnvWindowTable: false, EnvOutputBucket: false, EnvOutputPrefix: false, EnvDebugSample: false, EnvCommitFunction: false, EnvWarehouse: false, EnvStack: false},
	"transform": {EnvSpecs: true, EnvStagingBucket: true, EnvIdempotencyTable: false, EnvDebugSample: false},
	"load": {EnvSpecs: true, EnvStagingBucket: true, EnvOutputBucket: true, EnvOutputPrefix: false, EnvMetricsTable: true, EnvIdempotencyTable: false,
		EnvCommitFunction: false, EnvWarehouse: false, EnvStack: false},
	"commit": {EnvSpecs: true, EnvStagingBucket: false, EnvStreamSpecs: false, EnvWarehouse: true, EnvGlueDatabase: true, EnvOutputBucket: false,
		EnvOutputPrefix: false},
}

// ReturnsBatchItemFailures names the functions that answer Kinesis
// batches with partial batch failures.
var ReturnsBatchItemFailures = map[string]bool{"extract": true}

// Settings are a function's configuration, read from its environment.
type Settings struct {
	// Specs maps object key prefixes to spec locations: s3://bucket/key,
	// bundled:orders (built in), or a path inside the function package.
	Specs           map[string]string
	StagingBucket   string
	OutputBucket    string
	OutputPrefix    string
	StateMachineArn string
	MetricsTable    string
	// IdempotencyTable, when set, makes each run id run once at a time.
	IdempotencyTable string
	ChunkBytes       int64
	MaxInlineChunks  int
	MaxConcurrency   int
	// StreamSpecs maps Kinesis stream names ("*": any other) to spec
	// locations, for the stream path of the extract function.
	StreamSpecs map[string]string
	// WindowTable keeps stream checkpoints, window state and results.
	WindowTable string
	// DebugSample is the share (0 to 1) of quarantined records whose
	// contents are logged, for debugging. 0, the default, logs none:
	// logs never hold record values otherwise.
	DebugSample float64
	// Stack names the deployment: a dimension of the EMF metrics.
	Stack string
	// CommitFunction is the function that commits to iceberg tables
	// (extract and load call it for a spec with an iceberg sink).
	CommitFunction string
	// Warehouse (s3://bucket/prefix) and GlueDatabase bound what the
	// commit function commits to: a spec's warehouse must lie in the
	// deployment's, and its namespace must be the deployment's database,
	// which is what the function's IAM grants cover.
	Warehouse    string
	GlueDatabase string
}

// SettingsFromEnv reads the variables function fn uses. Required ones that
// are missing or malformed give an error naming them.
func SettingsFromEnv(fn string, getenv func(string) string) (Settings, error) {
	want, ok := EnvByFunction[fn]
	if !ok {
		return Settings{}, fmt.Errorf("unknown function %q", fn)
	}
	var missing []string
	for k, required := range want {
		if required && getenv(k) == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return Settings{}, fmt.Errorf("%s: missing environment: %s", fn, strings.Join(missing, ", "))
	}
	s := Settings{
		StagingBucket:    getenv(EnvStagingBucket),
		Stack:            getenv(EnvStack),
		OutputBucket:     getenv(EnvOutputBucket),
		OutputPrefix:     getenv(EnvOutputPrefix),
		StateMachineArn:  getenv(EnvStateMachineArn),
		MetricsTable:     getenv(EnvMetricsTable),
		IdempotencyTable: getenv(EnvIdempotencyTable),
		WindowTable:      getenv(EnvWindowTable),
		CommitFunction:   getenv(EnvCommitFunction),
		Warehouse:        getenv(EnvWarehouse),
		GlueDatabase:     getenv(EnvGlueDatabase),
		ChunkBytes:       64 << 20,
		MaxInlineChunks:  40,
		MaxConcurrency:   10,
	}
	if err := json.Unmarshal([]byte(getenv(EnvSpecs)), &s.Specs); err != nil {
		return Settings{}, fmt.Errorf("%s: %s must be a JSON object of key prefix to spec location: %w", fn, EnvSpecs, err)
	}
	if v := getenv(EnvDebugSample); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 1 {
			return Settings{}, fmt.Errorf("%s: %s must be a share from 0 to 1, not %q", fn, EnvDebugSample, v)
		}
		s.DebugSample = f
	}
	if v := getenv(EnvStreamSpecs); v != "" {
		if err := json.Unmarshal([]byte(v), &s.StreamSpecs); err != nil {
			return Settings{}, fmt.Errorf("%s: %s must be a JSON object of stream name to spec location: %w", fn, EnvStreamSpecs, err)
		}
	}
	if v := getenv(EnvChunkBytes); v != "" {
		n, err := spec.ParseSize(v)
		if err != nil || n <= 0 {
			return Settings{}, fmt.Errorf("%s: bad %s %q", fn, EnvChunkBytes, v)
		}
		s.ChunkBytes = n
	}
	for name, dst := range map[string]*int{EnvMaxInlineChunks: &s.MaxInlineChunks, EnvMaxConcurrency: &s.MaxConcurrency} {
		if v := getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return Settings{}, fmt.Errorf("%s: bad %s %q", fn, name, v)
			}
			*dst = n
		}
	}
	return s, nil
}

// Opener opens a bucket by name (an S3 bucket in Lambda; memblob in tests).
type Opener func(ctx context.Context, name string) (storage.Bucket, error)

// Deps are the clients a handler uses, created once per cold start.
type Deps struct {
	Open    Opener
	Starter ExecutionStarter // extract, when S3 notifications invoke it
	// Executions lets extract take a run's claim from an execution that
	// has ended without releasing it.
	Executions ExecutionDescriber
	Metrics    metrics.Store // load
	// Claims, when set, makes a run id run once at a time (extract claims,
	// load completes or releases).
	Claims claims.Store
	// Tables gives the load function a writer for a dynamodb sink.
	Tables func(table string, key []string) output.TableWriter
	// Windows opens the window-state table (extract, for streams); keep
	// is how long closed-window results live (0: the store's default).
	Windows func(table string, keep time.Duration) WindowStore
	// Lakes opens the table of a spec's iceberg sink (extract prepares
	// it, load commits to it); nil for any other sink. specLoc is the
	// spec's location as SLUICE_SPECS names it.
	Lakes func(ctx context.Context, p *plan.Plan, specLoc string) (Lake, error)
	// Catalogs registers the output of a jsonl, csv or parquet sink with
	// sink.catalog glue, whose parts go under location (load, through the
	// commit function).
	Catalogs func(ctx context.Context, p *plan.Plan, specLoc, location string) (batch.Catalog, error)
	// Shards lists a Kinesis stream's shard ids (extract, to flush the
	// held files of an iceberg sink).
	Shards func(ctx context.Context, stream string) ([]string, error)
	Log    *slog.Logger
	// EMF receives Embedded Metric Format lines (os.Stdout in Lambda).
	EMF interface{ Write([]byte) (int, error) }
	Now func() time.Time
}

func (d *Deps) defaults() {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
}

// PlanCache keeps compiled specs for the life of a warm container,
// re-reading an S3 spec only when its ETag changes.
type PlanCache struct {
	mu    sync.Mutex
	plans map[string]cachedPlan
}

type cachedPlan struct {
	etag string
	plan *plan.Plan
}

// ErrNoSpec is returned for an object key that no configured prefix covers.
var ErrNoSpec = fmt.Errorf("no spec is configured for this key")

// route returns the spec location for key: the longest matching prefix.
func (s Settings) route(key string) (string, error) {
	best, loc := -1, ""
	for p, l := range s.Specs {
		if strings.HasPrefix(key, p) && len(p) > best {
			best, loc = len(p), l
		}
	}
	if best < 0 {
		return "", fmt.Errorf("%w: %q", ErrNoSpec, key)
	}
	return loc, nil
}

// Load returns the compiled spec at loc: bundled:name, s3://bucket/key
// (re-read when its ETag changes) or a path in the function package.
func (c *PlanCache) Load(ctx context.Context, open Opener, loc string) (*plan.Plan, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.plans == nil {
		c.plans = map[string]cachedPlan{}
	}
	var data []byte
	etag := ""
	switch {
	case strings.HasPrefix(loc, "bundled:"):
		if cp, ok := c.plans[loc]; ok {
			return cp.plan, nil
		}
		d, err := examples.Spec(strings.TrimPrefix(loc, "bundled:"))
		if err != nil {
			return nil, configErr(err)
		}
		data = d
	case strings.HasPrefix(loc, "s3://"):
		rest := strings.TrimPrefix(loc, "s3://")
		bucket, key, ok := strings.Cut(rest, "/")
		if !ok {
			return nil, configErr(fmt.Errorf("spec location %q: want s3://bucket/key", loc))
		}
		b, err := open(ctx, bucket)
		if err != nil {
			return nil, err
		}
		a, err := b.Attributes(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("spec %s: %w", loc, err)
		}
		if cp, ok := c.plans[loc]; ok && cp.etag == a.ETag {
			return cp.plan, nil
		}
		if a.Size > spec.MaxSpecBytes {
			return nil, configErr(fmt.Errorf("spec %s is larger than %d bytes", loc, spec.MaxSpecBytes))
		}
		if data, err = storage.ReadAll(ctx, b, key); err != nil {
			return nil, fmt.Errorf("spec %s: %w", loc, err)
		}
		etag = a.ETag
	default:
		return nil, configErr(fmt.Errorf("spec location %q: want s3://bucket/key or bundled:NAME", loc))
	}
	p, err := plan.FromBytes(loc, data)
	if err != nil {
		return nil, configErr(fmt.Errorf("spec %s: %w", loc, err))
	}
	c.plans[loc] = cachedPlan{etag: etag, plan: p}
	return p, nil
}

// rejectSampler logs a share of quarantined records with their contents,
// when debug sampling is on; nil otherwise.
func rejectSampler(s Settings, d *Deps, pipeline string) func(*output.RejectRecord) {
	if s.DebugSample <= 0 {
		return nil
	}
	return func(rr *output.RejectRecord) {
		if rand.Float64() >= s.DebugSample {
			return
		}
		raw := rr.Raw
		if len(raw) > 512 {
			raw = raw[:512]
		}
		d.Log.Info("debug sample: quarantined record", "pipeline", pipeline, "source", rr.Source, "shard", rr.Shard,
			"sequence_number", rr.Seq, "line", rr.Line, "rule", rr.Rule, "reason", rr.Reason, "raw", raw)
	}
}
