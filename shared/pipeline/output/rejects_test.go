package output_test

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sluice-etl/sluice/shared/adapter/storage/memblob"
	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/pipeline/output"
)

// A reject keeps at most MaxRawInReject bytes of its record's text, as
// valid UTF-8 cut on a rune boundary, on the batch path (WriteRaw) and on
// the stream path (Write).
func TestRejectRawIsCutOnARuneBoundary(t *testing.T) {
	euros := strings.Repeat("€", 1367) // 4,101 bytes
	for _, tc := range []struct {
		name, raw, want string
	}{
		{"a rune across the limit", euros, strings.Repeat("€", 1365)},
		{"a line break after the limit", strings.Repeat("€", 1366) + "\r\n", strings.Repeat("€", 1365)},
		{"invalid bytes become U+FFFD within the limit", strings.Repeat("\xff", 5000), strings.Repeat("\uFFFD", 1365)},
		{"short invalid text", "a\xffb", "a\uFFFDb"},
		{"short text is kept as it is", "1,x,€\n", "1,x,€"},
		{"exactly the limit", strings.Repeat("x", output.MaxRawInReject), strings.Repeat("x", output.MaxRawInReject)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			b := memblob.New()
			w := output.NewRejectWriter(ctx, b, "batch.jsonl")
			out := &plan.Outcome{Verdict: plan.Reject, Rule: "decode", Reason: "bad"}
			if err := w.WriteRaw(&codec.RawRecord{Raw: []byte(tc.raw), Index: 1}, out); err != nil {
				t.Fatal(err)
			}
			s := output.NewRejectWriter(ctx, b, "stream.jsonl")
			if err := s.Write(&output.RejectRecord{Rule: "decode", Reason: "bad", Raw: strings.TrimRight(tc.raw, "\r\n")}); err != nil {
				t.Fatal(err)
			}
			for _, w := range []*output.RejectWriter{w, s} {
				p, err := w.Close()
				if err != nil {
					t.Fatal(err)
				}
				rr, err := output.ReadRejects(ctx, b, p.Key)
				if err != nil || len(rr) != 1 {
					t.Fatalf("%s: %v %v", p.Key, rr, err)
				}
				if got := rr[0].Raw; got != tc.want || len(got) > output.MaxRawInReject || !utf8.ValidString(got) {
					t.Errorf("%s: raw is %d bytes (%.12q...), want %d bytes (%.12q...)", p.Key, len(got), got, len(tc.want), tc.want)
				}
			}
		})
	}
}
