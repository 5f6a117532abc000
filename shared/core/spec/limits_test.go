package spec_test

import (
	"strings"
	"testing"

	"github.com/sluice-etl/sluice/shared/core/spec"
)

// limits.max_zstd_window: empty by default (the default is applied where
// it is used, so the spec hash of a spec without it does not change), a
// size when set, and refused outside zstd's windows.
func TestMaxZstdWindow(t *testing.T) {
	for _, c := range []struct {
		src  string
		want spec.Size
		err  string
	}{
		{src: "", want: 0},
		{src: "limits: {max_zstd_window: 64MiB}\n", want: 64 << 20},
		{src: "limits: {max_zstd_window: 1024}\n", want: 1024},
		{src: "limits: {max_zstd_window: 2GiB}\n", want: 2 << 30},
		{src: "limits: {max_zstd_window: 1023}\n", err: "t.yaml:2:10: limits.max_zstd_window: must be between 1KiB and 2GiB (0: the default, 32MiB)"},
		{src: "limits: {max_zstd_window: 3GiB}\n", err: "limits.max_zstd_window: must be between 1KiB and 2GiB"},
		{src: "limits: {max_zstd_window: -1}\n", err: "bad size"},
	} {
		sp, err := spec.Parse("t.yaml", []byte("fields: [{name: a}]\n"+c.src))
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q: error %v, want one holding %q", c.src, err, c.err)
		case c.err == "" && err != nil:
			t.Errorf("%q: %v", c.src, err)
		case c.err == "" && sp.Limits.MaxZstdWindow != c.want:
			t.Errorf("%q: max_zstd_window = %d, want %d", c.src, sp.Limits.MaxZstdWindow, c.want)
		}
	}
	if spec.DefaultMaxZstdWindow != 32<<20 {
		t.Errorf("DefaultMaxZstdWindow = %d, docs/spec.md says 32 MiB", spec.DefaultMaxZstdWindow)
	}
}
