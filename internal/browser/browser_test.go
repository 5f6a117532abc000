//go:build unix

package browser_test

import (
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-etl/sluice/internal/browser"
)

// The DOM comes back after the page's scripts ran, and the page reaches
// no network: an image from a host fails to load.
func TestDumpDOMRunsScripts(t *testing.T) {
	b := browser.Need(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "p.html")
	html := `<!DOCTYPE html><html><body><p id="a">static</p>
<img id="remote" src="http://example.com/x.png" onerror="this.alt='offline'">
<script>document.getElementById('a').textContent = 'scripted ' + (6 * 7);</script></body></html>`
	if err := os.WriteFile(page, []byte(html), 0o644); err != nil {
		t.Fatal(err)
	}
	dom, err := b.DumpDOM(context.Background(), "file://"+page)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(dom, `<p id="a">scripted 42</p>`) {
		t.Errorf("DOM lacks the script's text:\n%s", dom)
	}
	if !strings.Contains(dom, `alt="offline"`) {
		t.Errorf("the remote image did not fail to load:\n%s", dom)
	}
}

func TestScreenshotSize(t *testing.T) {
	b := browser.Need(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "p.html")
	if err := os.WriteFile(page, []byte(`<!DOCTYPE html><body style="margin:0;background:#1565c0"><h1 style="color:#fff">sluice</h1>`), 0o644); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "s.png")
	if err := b.Screenshot(context.Background(), "file://"+page, shot, 640, 360); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if got := img.Bounds().Size(); got.X != 640 || got.Y != 360 {
		t.Errorf("screenshot is %v, want 640x360", got)
	}
	if r, g, bl, _ := img.At(600, 300).RGBA(); r>>8 != 0x15 || g>>8 != 0x65 || bl>>8 != 0xc0 {
		t.Errorf("background pixel is %02x%02x%02x, want 1565c0", r>>8, g>>8, bl>>8)
	}
}

func TestMissingBinary(t *testing.T) {
	b := browser.New(filepath.Join(t.TempDir(), "no-chromium"))
	_, err := b.DumpDOM(context.Background(), "file:///dev/null")
	if err == nil || !strings.Contains(err.Error(), "no-chromium") {
		t.Errorf("err = %v", err)
	}
}
