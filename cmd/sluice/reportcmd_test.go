package main

import (
	"context"
	"encoding/json"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-etl/sluice/internal/browser"
	"github.com/sluice-etl/sluice/shared/pipeline/output"
	"github.com/sluice-etl/sluice/shared/pipeline/report"
)

// runOrdersInto runs the orders example into dir with extra flags.
func runOrdersInto(t *testing.T, dir string, flags ...string) string {
	t.Helper()
	args := append([]string{"run", "--quiet", "--spec", "../../examples/orders/spec.yaml", "--input", "../../examples/orders/orders.csv", "--output", dir}, flags...)
	code, out, stderr := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	return out
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// sluice run --report writes a page that headless Chromium renders with
// the run's counts, offline, and whose figures are the manifest's.
func TestRunReportRendersInChromium(t *testing.T) {
	dir := t.TempDir()
	out := runOrdersInto(t, dir, "--report")
	page := filepath.Join(dir, "_report.html")
	if !strings.Contains(out, "report:   "+page+"\n") {
		t.Errorf("stdout does not say where the report is:\n%s", out)
	}
	var m output.Manifest
	var twin report.Report
	readJSON(t, filepath.Join(dir, "_manifest.json"), &m)
	readJSON(t, filepath.Join(dir, "_report.json"), &twin)
	if f := twin.Flow; f.In != m.In || f.Out != m.Out || f.Rejected != m.Rejected || f.Filtered != m.Filtered || twin.RunID != m.RunID {
		t.Errorf("twin flow %+v of run %s, manifest %+v of run %s", f, twin.RunID, m.Counts, m.RunID)
	}

	b := browser.Need(t)
	ctx := context.Background()
	dom, err := b.DumpDOM(ctx, "file://"+page)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`<span class="badge succeeded" id="status">succeeded</span>`,
		`id="records-in">25<`, `id="records-out">10<`, `id="records-rejected">12<`, `id="records-filtered">3<`,
		"<code>email.regex</code>", "<code>filter:not_cancelled</code>", "<code>dt=2026-11-03</code>",
		"<code>created_at</code>",
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered DOM lacks %q", want)
		}
	}
	for _, v := range []string{"alice@example.com", "2026-11-03T15:00:00.000000Z", "1200.00"} {
		if strings.Contains(dom, v) {
			t.Errorf("the page shows the record value %q without --show-values", v)
		}
	}
	shot := filepath.Join(t.TempDir(), "report.png")
	if err := b.Screenshot(ctx, "file://"+page, shot, 1200, 1600); err != nil {
		t.Fatal(err)
	}
	checkScreenshot(t, shot, 1200, 1600)
}

// checkScreenshot checks that shot is a PNG of w×h pixels, not trivially
// small, whose flow bar splits as the orders example's records do: 10 out,
// 12 rejected and 3 filtered of 25.
func checkScreenshot(t *testing.T, shot string, w, h int) {
	t.Helper()
	st, err := os.Stat(shot)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() < 20_000 {
		t.Errorf("screenshot is %d bytes: a blank page?", st.Size())
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if got := img.Bounds().Size(); got != (image.Point{X: w, Y: h}) {
		t.Fatalf("screenshot is %v, want %dx%d", got, w, h)
	}
	want := []struct {
		rgb   uint32
		share float64
	}{{0x2e7d32, 0.40}, {0xc62828, 0.48}, {0xf9a825, 0.12}}
	for y := range h {
		var n [3]int
		for x := range w {
			r, g, b, _ := img.At(x, y).RGBA()
			rgb := (r>>8)<<16 | (g>>8)<<8 | b>>8
			for i, c := range want {
				if rgb == c.rgb {
					n[i]++
				}
			}
		}
		total := n[0] + n[1] + n[2]
		if n[0] == 0 || n[1] == 0 || n[2] == 0 || total < w/2 {
			continue
		}
		for i, c := range want {
			if got := float64(n[i]) / float64(total); math.Abs(got-c.share) > 0.01 {
				t.Errorf("flow bar at y=%d: colour %06x is %.3f of the bar, want %.2f", y, c.rgb, got, c.share)
			}
		}
		return
	}
	t.Error("screenshot has no flow bar: no row of out, rejected and filtered colours")
}

// sluice report reads a run folder or its manifest; values show only
// with --show-values.
func TestReportCommand(t *testing.T) {
	dir := t.TempDir()
	runOrdersInto(t, dir)
	html := filepath.Join(t.TempDir(), "r.html")
	code, out, stderr := runCLI(t, "report", dir, "--html", html)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if want := "report: " + html + " (figures: " + strings.TrimSuffix(html, ".html") + ".json)\n"; out != want {
		t.Errorf("stdout %q, want %q", out, want)
	}
	page, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	twin, err := os.ReadFile(strings.TrimSuffix(html, ".html") + ".json")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"alice@example.com", "not-an-email", "does not match"} {
		if strings.Contains(string(page), v) || strings.Contains(string(twin), v) {
			t.Errorf("report without --show-values holds %q", v)
		}
	}
	// The manifest's path, and --show-values: the JSON on stdout holds
	// sample rejected rows.
	code, out, stderr = runCLI(t, "report", "--show-values", filepath.Join(dir, "_manifest.json"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r report.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("stdout is not the report: %v\n%s", err, out)
	}
	if len(r.Samples) != report.MaxSamples || !strings.Contains(r.Samples[0].Raw, "not-an-email") || r.Flow.In != 25 {
		t.Errorf("samples %+v, in %d", r.Samples, r.Flow.In)
	}
}

// sluice run --show-values keeps top values, and --report-html puts the
// page where it says.
func TestRunReportWithValues(t *testing.T) {
	dir := t.TempDir()
	html := filepath.Join(t.TempDir(), "page.html")
	out := runOrdersInto(t, dir, "--report-html", html, "--show-values")
	if !strings.Contains(out, "report:   "+html+"\n") {
		t.Errorf("stdout:\n%s", out)
	}
	page, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"alice@example.com", "not-an-email"} {
		if !strings.Contains(string(page), v) {
			t.Errorf("page with --show-values lacks %q", v)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "_report.html")); !os.IsNotExist(err) {
		t.Errorf("a report was written into the output too: %v", err)
	}
}

func TestReportCommandErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"report"}, 2, "usage: sluice report"},
		{[]string{"report", dir, "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"report", filepath.Join(dir, "none")}, 1, "no such file or directory"},
		{[]string{"report", dir}, 1, "read manifest _manifest.json: "},
	} {
		code, _, stderr := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
}
