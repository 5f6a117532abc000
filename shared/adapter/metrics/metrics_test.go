package metrics_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-etl/sluice/shared/adapter/metrics"
	"github.com/sluice-etl/sluice/shared/pipeline/output"
)

// The EMF line carries the stack as a dimension when there is one, its
// counts, and no record contents.
func TestWriteEMF(t *testing.T) {
	r := metrics.Run{RunID: "r1", Pipeline: "orders", Status: output.StatusSucceeded, In: 25, Out: 10, Rejected: 12, Filtered: 3,
		ByRule: map[string]int64{"email.regex": 1}, FinishedAt: time.Date(2026, 11, 30, 4, 0, 0, 0, time.UTC)}
	for _, stack := range []string{"prod", ""} {
		var b bytes.Buffer
		if err := metrics.WriteEMF(&b, stack, r); err != nil {
			t.Fatal(err)
		}
		var doc struct {
			AWS struct {
				Timestamp         int64
				CloudWatchMetrics []struct {
					Namespace  string
					Dimensions [][]string
					Metrics    []struct{ Name, Unit string }
				}
			} `json:"_aws"`
			Stack, Pipeline string
			RecordsIn       int64
			RunFailed       int
		}
		if err := json.Unmarshal(b.Bytes(), &doc); err != nil || !strings.HasSuffix(b.String(), "}\n") {
			t.Fatalf("%q: %v", b.String(), err)
		}
		m := doc.AWS.CloudWatchMetrics[0]
		var names []string
		for _, x := range m.Metrics {
			names = append(names, x.Name)
		}
		wantDims := [][]string{{"Pipeline"}, {"Pipeline", "Status"}}
		if stack != "" {
			wantDims = [][]string{{"Stack", "Pipeline"}, {"Stack", "Pipeline", "Status"}}
		}
		if m.Namespace != "sluice" || !slices.EqualFunc(m.Dimensions, wantDims, slices.Equal) || !slices.Equal(names, metrics.MetricNames()) ||
			doc.Stack != stack || doc.Pipeline != "orders" || doc.RecordsIn != 25 || doc.RunFailed != 0 || doc.AWS.Timestamp != r.FinishedAt.UnixMilli() {
			t.Errorf("stack %q: %s", stack, b.String())
		}
		if strings.Contains(b.String(), "email.regex") {
			t.Errorf("stack %q: the EMF line holds rule names: %s", stack, b.String())
		}
	}
}
