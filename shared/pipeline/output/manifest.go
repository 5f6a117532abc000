package output

import (
	"time"

	"github.com/sluice-etl/sluice/shared/core/accounting"
)

// Source names one input object.
type Source struct {
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
	Size   int64  `json:"size"`
	ETag   string `json:"etag"`
}

// Status is how a run ended.
type Status string

// Run statuses.
const (
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed"
)

// StageStats describe one stage of a run.
type StageStats struct {
	DurationMS float64 `json:"duration_ms"`
	Records    int64   `json:"records"`
	Bytes      int64   `json:"bytes"`
}

// Manifest is the summary Load writes next to the data. Its top-level
// records_in, records_out, records_rejected and records_filtered always
// satisfy in = out + rejected + filtered.
type Manifest struct {
	ManifestVersion int    `json:"manifest_version"`
	RunID           string `json:"run_id"`
	Status          Status `json:"status"`
	Error           string `json:"error,omitempty"`
	Spec            string `json:"spec"`
	SpecHash        string `json:"spec_hash"`
	Source          Source `json:"source"`
	Format          string `json:"format"`
	Compression     string `json:"compression"`
	accounting.Counts
	RejectRatio float64               `json:"reject_ratio"`
	BytesIn     int64                 `json:"bytes_in"`
	BytesOut    int64                 `json:"bytes_out"`
	Chunks      int                   `json:"chunks"`
	Stages      map[string]StageStats `json:"stages"`
	Parts       []Part                `json:"parts"`
	Rejects     []Part                `json:"rejects"`
	StartedAt   time.Time             `json:"started_at"`
	FinishedAt  time.Time             `json:"finished_at"`
	DurationMS  float64               `json:"duration_ms"`
}

// SourceIndex names the run whose output is live for one source object,
// and the keys that output holds. When a new version of the object runs,
// its commit removes the keys the index lists and then names the new run.
type SourceIndex struct {
	Source Source   `json:"source"`
	RunID  string   `json:"run_id"`
	Keys   []string `json:"keys"`
}
