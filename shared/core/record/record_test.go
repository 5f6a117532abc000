package record_test

import (
	"testing"

	"github.com/sluice-etl/sluice/shared/core/record"
)

func TestIsPlain(t *testing.T) {
	for _, c := range []struct {
		s    string
		want bool
	}{
		{"", true}, {"hello world", true}, {"exactly8", true}, {"a longer plain ascii string, 0-9 ~!", true},
		{`quote"`, false}, {`back\slash`, false}, {"tab\there", false}, {"new\nline at the end of a long one", false},
		{"caf\xc3\xa9 is UTF-8", false}, {"del\x7f", false}, {"12345678\x01", false}, {"1234567\"", false},
		{"\xff", false}, {"\x00", false},
	} {
		if got := record.IsPlain([]byte(c.s)); got != c.want {
			t.Errorf("IsPlain(%q) = %v, want %v", c.s, got, c.want)
		}
	}
	// Every single byte, at every position of a 16-byte word.
	for b := 0; b < 256; b++ {
		want := b >= 0x20 && b < 0x7f && b != '"' && b != '\\'
		for pos := 0; pos < 16; pos++ {
			s := []byte("abcdefghijklmnop")
			s[pos] = byte(b)
			if got := record.IsPlain(s); got != want {
				t.Fatalf("byte %#x at %d: %v, want %v", b, pos, got, want)
			}
		}
	}
}

func TestAppendDecimalAndText(t *testing.T) {
	for _, c := range []struct {
		v     record.Value
		scale int
		want  string
	}{
		{record.DecimalValue(-5), 2, "-0.05"}, {record.DecimalValue(12345), 2, "123.45"}, {record.DecimalValue(-9223372036854775808), 0, "-9223372036854775808"},
		{record.DecimalValue(-9223372036854775808), 4, "-922337203685477.5808"}, {record.FloatValue(1e21), 0, "1e+21"}, {record.FloatValue(0.5), 0, "0.5"},
		{record.TimestampValue(1767265200123456), 0, "2026-01-01T11:00:00.123456Z"}, {record.DateValue(20454), 0, "2026-01-01"},
		{record.BoolValue(true), 0, "true"}, {record.IntValue(-7), 0, "-7"},
	} {
		if got := string(record.AppendText(nil, c.v, c.scale)); got != c.want {
			t.Errorf("AppendText(%+v, %d) = %q, want %q", c.v, c.scale, got, c.want)
		}
	}
}
