package codec_test

import (
	"testing"

	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/record"
)

// FuzzPlainStringsNeedNoEscape checks the shortcut the JSONL encoder takes
// for strings flagged plain: their JSON form is the bytes in quotes.
func FuzzPlainStringsNeedNoEscape(f *testing.F) {
	for _, s := range []string{"", "abc", "with space and ~", `q"`, "\\", "\x7f", "caf\xc3\xa9", "12345678\x1f"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if record.IsPlain(b) && string(codec.AppendJSONString(nil, b)) != `"`+string(b)+`"` {
			t.Fatalf("IsPlain(%q) but JSON escaping changes it", b)
		}
	})
}
