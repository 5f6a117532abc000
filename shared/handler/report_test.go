package handler_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/core/layout"
	"github.com/sluice-etl/sluice/shared/core/profile"
	"github.com/sluice-etl/sluice/shared/handler"
	"github.com/sluice-etl/sluice/shared/pipeline/output"
	"github.com/sluice-etl/sluice/shared/pipeline/report"
)

// runChunked runs the orders example with spec through extract, every
// chunk's transform (chunks of 300 bytes, last first), load and finalize,
// and returns the manifest prefix of the run in the output bucket.
func runChunked(t *testing.T, e *env, spec string) (string, handler.LoadOutput) {
	t.Helper()
	e.s.ChunkBytes = 300
	e.s.Specs["incoming/orders/"] = "s3://sluice-specs/orders.yaml"
	put(t, e.bucket("sluice-specs"), "orders.yaml", []byte(spec))
	var p handler.Planned
	if err := invoke(t, handler.NewExtractor(e.s, e.deps()), []byte(`{"bucket":"sluice-input-bucket","key":"incoming/orders/orders.csv"}`), &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Chunks) < 4 {
		t.Fatalf("%d chunks", len(p.Chunks))
	}
	tr := handler.NewTransformer(e.s, e.deps())
	for i := len(p.Chunks) - 1; i >= 0; i-- {
		payload, _ := json.Marshal(p.Chunks[i])
		var d handler.ChunkDone
		if err := invoke(t, tr.Handle, payload, &d); err != nil {
			t.Fatal(err)
		}
	}
	ld := handler.NewLoader(e.s, e.deps())
	var loaded, final handler.LoadOutput
	payload, _ := json.Marshal(handler.LoadInput{Action: handler.ActionLoad, Run: p})
	if err := invoke(t, ld.Handle, payload, &loaded); err != nil {
		t.Fatal(err)
	}
	payload, _ = json.Marshal(handler.LoadInput{Action: handler.ActionFinalize, Run: p, ManifestKey: loaded.ManifestKey})
	if err := invoke(t, ld.Handle, payload, &final); err != nil {
		t.Fatal(err)
	}
	return layout.RunManifestPrefix("tables/orders", p.RunID), final
}

// ordersSpec is the orders example's spec without its dedup, which keeps
// a run to one chunk, and with extra keys.
func ordersSpec(t *testing.T, extra string) string {
	t.Helper()
	data, err := os.ReadFile("../../examples/orders/spec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const dedup = "dedup:\n  keys: [order_id]\n"
	if !strings.Contains(string(data), dedup) {
		t.Fatal("the orders spec has no dedup")
	}
	return strings.Replace(string(data), dedup, "", 1) + extra
}

// The Lambda path writes the run's profile beside its manifest, merged
// from the chunks' profiles, and no report page unless the spec asks.
func TestProfileBesideTheManifest(t *testing.T) {
	e := newEnv(t)
	prefix, final := runChunked(t, e, ordersSpec(t, ""))
	out := e.bucket("sluice-output-bucket")
	data, err := storage.ReadAll(ctx, out, layout.ProfileKey(prefix))
	if err != nil {
		t.Fatal(err)
	}
	var p profile.Profile
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	if p.Rows != final.Out || p.Rows != 11 || p.Values {
		t.Fatalf("profile of %d rows (values %v), run wrote %d", p.Rows, p.Values, final.Out)
	}
	// The eleven rows of the orders example without dedup, known: ten
	// order ids from 1001 to 1024 (1003 twice), two rows without a country.
	id, country, amount := p.Column("order_id"), p.Column("country"), p.Column("amount")
	got := fmt.Sprintf("%s %s %d %d %d %s %s", id.Min(), id.Max(), id.Distinct(), country.Nulls, country.Distinct(), amount.Min(), amount.Max())
	if want := "1001 1024 10 2 5 5.50 1200.00"; got != want {
		t.Errorf("profile: %s, want %s", got, want)
	}
	if strings.Contains(string(data), "alice@example.com") || strings.Contains(string(data), `"top"`) {
		t.Errorf("profile holds values by default: %s", data)
	}
	if _, err := out.Attributes(ctx, layout.ReportKey(prefix)); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("report page written without report.html: %v", err)
	}
}

// With report.html the finalize step writes the page and its twin beside
// the manifest; report.show_values puts top values and samples in them.
func TestReportOnRequest(t *testing.T) {
	e := newEnv(t)
	prefix, final := runChunked(t, e, ordersSpec(t, "report: {html: true, show_values: true}\n"))
	out := e.bucket("sluice-output-bucket")
	page, err := storage.ReadAll(ctx, out, layout.ReportKey(prefix))
	if err != nil {
		t.Fatal(err)
	}
	data, err := storage.ReadAll(ctx, out, layout.ReportJSONKey(prefix))
	if err != nil {
		t.Fatal(err)
	}
	var r report.Report
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	var m output.Manifest
	mdata, err := storage.ReadAll(ctx, out, layout.ManifestKey(prefix))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(mdata, &m); err != nil {
		t.Fatal(err)
	}
	if r.Flow.In != m.In || r.Flow.Out != final.Out || r.Flow.Rejected != m.Rejected || r.Flow.Filtered != m.Filtered || r.Files.Count != len(m.Parts) {
		t.Errorf("report flow %+v, files %+v; manifest %+v, %d parts", r.Flow, r.Files, m.Counts, len(m.Parts))
	}
	status := r.Profile.Columns[5]
	if status.Name != "status" || fmt.Sprint(status.Top) != "[{paid 9} {pending 2}]" {
		t.Errorf("status column %+v", status)
	}
	// Samples come from the quarantine, with absolute line numbers.
	if len(r.Samples) != report.MaxSamples || r.Samples[0].Line != 5 || !strings.Contains(string(page), "not-an-email") {
		t.Errorf("samples %+v", r.Samples)
	}
}
