package codec_test

import (
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-etl/sluice/shared/core/codec"
)

// UnknownKey sees every top-level key no requested column names, in the
// order the objects hold them, escapes undone; nested keys and requested
// ones are not reported, and the contract still judges the record.
func TestUnknownKey(t *testing.T) {
	in := `{"a":1,"b\u0020c":{"nested":2},"d":null}` + "\n" + `{"e":"x","a":3}` + "\n" + `[1]` + "\n"
	for _, format := range []codec.Format{codec.FormatJSONL, codec.FormatJSON} {
		t.Run(string(format), func(t *testing.T) {
			src := in
			if format == codec.FormatJSON {
				src = "[" + strings.ReplaceAll(strings.TrimSpace(in), "\n", ",") + "]"
			}
			var keys []string
			with := func(o *codec.DecoderOptions) {
				o.UnknownKey = func(k []byte) { keys = append(keys, string(k)) }
				o.Contract = codec.Contract{Unknown: codec.UnknownReject}
			}
			var dec codec.Decoder
			if format == codec.FormatJSONL {
				dec = codec.NewJSONLDecoder(strings.NewReader(src), []string{"a"}, 0, codec.Range{}, with)
			} else {
				dec = codec.NewJSONDecoder(strings.NewReader(src), []string{"a"}, 0, with)
			}
			var errs []string
			for {
				rec, err := dec.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				errs = append(errs, errText(rec.Err))
			}
			if want := []string{"b c", "d", "e"}; !slices.Equal(keys, want) {
				t.Errorf("keys = %q, want %q", keys, want)
			}
			want := []string{`unknown column: key "b c" is not read by any field (nor is 1 other key)`,
				`unknown column: key "e" is not read by any field`, "not a JSON object: got an array"}
			if !slices.Equal(errs, want) {
				t.Errorf("record errors = %q, want %q", errs, want)
			}
		})
	}
}
