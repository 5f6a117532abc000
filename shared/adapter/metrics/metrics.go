// Package metrics turns a run's manifest into the record kept in the
// metrics table and into CloudWatch Embedded Metric Format log lines. It
// imports no AWS code; dynamometrics stores records in DynamoDB.
package metrics

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/sluice-etl/sluice/shared/pipeline/output"
)

// Run is one pipeline run as kept in the metrics table.
type Run struct {
	RunID      string             `json:"run_id" dynamodbav:"run_id"`
	Pipeline   string             `json:"pipeline" dynamodbav:"pipeline"`
	Source     string             `json:"source" dynamodbav:"source"`
	Status     output.Status      `json:"status" dynamodbav:"status"`
	Error      string             `json:"error,omitempty" dynamodbav:"error,omitempty"`
	In         int64              `json:"records_in" dynamodbav:"records_in"`
	Out        int64              `json:"records_out" dynamodbav:"records_out"`
	Rejected   int64              `json:"records_rejected" dynamodbav:"records_rejected"`
	Filtered   int64              `json:"records_filtered" dynamodbav:"records_filtered"`
	ByRule     map[string]int64   `json:"rejected_by_rule,omitempty" dynamodbav:"rejected_by_rule,omitempty"`
	ByReason   map[string]int64   `json:"filtered_by_reason,omitempty" dynamodbav:"filtered_by_reason,omitempty"`
	BytesIn    int64              `json:"bytes_in" dynamodbav:"bytes_in"`
	BytesOut   int64              `json:"bytes_out" dynamodbav:"bytes_out"`
	Chunks     int                `json:"chunks" dynamodbav:"chunks"`
	Parts      int                `json:"parts" dynamodbav:"parts"`
	StageMS    map[string]float64 `json:"stage_ms,omitempty" dynamodbav:"stage_ms,omitempty"`
	DurationMS float64            `json:"duration_ms" dynamodbav:"duration_ms"`
	StartedAt  time.Time          `json:"started_at" dynamodbav:"started_at"`
	FinishedAt time.Time          `json:"finished_at" dynamodbav:"finished_at"`
	// ExpiresAt is the table's TTL attribute (Unix seconds).
	ExpiresAt int64 `json:"expires_at" dynamodbav:"expires_at"`
}

// Retention is how long run records are kept before TTL removes them.
const Retention = 90 * 24 * time.Hour

// FromManifest builds the run record of a manifest; now dates a record
// whose manifest has no finish time.
func FromManifest(pipeline string, m *output.Manifest, now time.Time) Run {
	r := Run{
		RunID: m.RunID, Pipeline: pipeline, Source: m.Source.Bucket + "/" + m.Source.Key,
		Status: m.Status, Error: m.Error,
		In: m.In, Out: m.Out, Rejected: m.Rejected, Filtered: m.Filtered,
		ByRule: m.RejectedByRule, ByReason: m.FilteredByReason,
		BytesIn: m.BytesIn, BytesOut: m.BytesOut, Chunks: m.Chunks, Parts: len(m.Parts),
		DurationMS: m.DurationMS, StartedAt: m.StartedAt, FinishedAt: m.FinishedAt,
		StageMS: map[string]float64{},
	}
	for k, v := range m.Stages {
		r.StageMS[k] = v.DurationMS
	}
	if r.FinishedAt.IsZero() {
		r.FinishedAt = now.UTC()
	}
	r.ExpiresAt = r.FinishedAt.Add(Retention).Unix()
	return r
}

// Store keeps run records.
type Store interface {
	PutRun(ctx context.Context, r Run) error
}

// Namespace is the CloudWatch namespace of the EMF metrics.
const Namespace = "sluice"

type metric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

// emfMetrics are the metrics of every run's EMF line.
var emfMetrics = []metric{
	{"RecordsIn", "Count"}, {"RecordsOut", "Count"}, {"RecordsRejected", "Count"},
	{"RecordsFiltered", "Count"}, {"BytesIn", "Bytes"}, {"BytesOut", "Bytes"},
	{"DurationMs", "Milliseconds"}, {"RunFailed", "Count"},
}

// MetricNames are the names of the metrics WriteEMF writes, in Namespace.
func MetricNames() []string {
	names := make([]string, len(emfMetrics))
	for i, m := range emfMetrics {
		names[i] = m.Name
	}
	return names
}

// DimensionSets are the dimension sets of WriteEMF's metrics, with the
// stack's dimension or without.
func DimensionSets(stack bool) [][]string {
	if stack {
		return [][]string{{"Stack", "Pipeline"}, {"Stack", "Pipeline", "Status"}}
	}
	return [][]string{{"Pipeline"}, {"Pipeline", "Status"}}
}

// WriteEMF writes one CloudWatch Embedded Metric Format line for r, with
// the stack (the deployment), the pipeline and the status as dimensions,
// so that two deployments in one account and region keep their figures
// apart. It holds counts only, never record contents. With no stack the
// dimensions are the pipeline and the status alone.
func WriteEMF(w io.Writer, stack string, r Run) error {
	dims := DimensionSets(stack != "")
	doc := map[string]any{
		"_aws": map[string]any{
			"Timestamp": r.FinishedAt.UnixMilli(),
			"CloudWatchMetrics": []map[string]any{{
				"Namespace":  Namespace,
				"Dimensions": dims,
				"Metrics":    emfMetrics,
			}},
		},
		"Pipeline": r.Pipeline, "Status": r.Status, "RunId": r.RunID,
		"RecordsIn": r.In, "RecordsOut": r.Out, "RecordsRejected": r.Rejected, "RecordsFiltered": r.Filtered,
		"BytesIn": r.BytesIn, "BytesOut": r.BytesOut, "DurationMs": r.DurationMS,
		"RunFailed": boolInt(r.Status != output.StatusSucceeded),
	}
	if stack != "" {
		doc["Stack"] = stack
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("emf: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// MemStore is an in-memory Store for tests and local runs.
type MemStore struct{ Runs map[string]Run }

// PutRun implements Store.
func (m *MemStore) PutRun(_ context.Context, r Run) error {
	if m.Runs == nil {
		m.Runs = map[string]Run{}
	}
	m.Runs[r.RunID] = r
	return nil
}
