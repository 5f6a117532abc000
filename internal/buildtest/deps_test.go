package buildtest_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/sluice-etl/sluice/internal/buildtest"
)

// Only the commit function links iceberg-go: it more than doubles a
// bootstrap and its cold start.
func TestOnlyTheCommitFunctionLinksIceberg(t *testing.T) {
	for _, fn := range buildtest.Functions {
		out, err := exec.Command("go", "list", "-deps", "../../functions/"+fn).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", fn, err)
		}
		links := strings.Contains(string(out), "github.com/apache/iceberg-go\n")
		if links != (fn == "commit") {
			t.Errorf("functions/%s links iceberg-go: %v", fn, links)
		}
	}
}
