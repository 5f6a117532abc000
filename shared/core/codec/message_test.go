package codec

import (
	"errors"
	"strings"
	"testing"
)

// decode decodes a message that breaks no contract that fails.
func decode(t testing.TB, m *MessageDecoder, msg string) *RawRecord {
	t.Helper()
	r, err := m.Decode([]byte(msg))
	if err != nil {
		t.Fatalf("%q: %v", msg, err)
	}
	return r
}

func TestMessageDecoderJSON(t *testing.T) {
	m, err := NewMessageDecoder("json", []string{"id", "amount"}, CSVOptions{MaxRecordBytes: 64})
	if err != nil {
		t.Fatal(err)
	}
	r := decode(t, m, `{"id":"a1","amount":12.5,"extra":[1]}`+"\n")
	if r.Err != nil || string(r.Fields[0].Bytes) != "a1" || r.Fields[0].Kind != RawString || string(r.Fields[1].Bytes) != "12.5" || r.Fields[1].Kind != RawNumber {
		t.Fatalf("record = %+v", r)
	}
	r = decode(t, m, `{"id":"b2"}`)
	if r.Err != nil || string(r.Fields[0].Bytes) != "b2" || r.Fields[1].Kind != RawMissing {
		t.Fatalf("stale field after a shorter message: %+v", r)
	}
	for msg, want := range map[string]error{
		`[1,2]`:                  ErrNotObject,
		`{"id":`:                 ErrInvalidJSON,
		`{"id":"a"} {"id":"b"}`:  ErrInvalidJSON,
		``:                       ErrInvalidJSON,
		strings.Repeat("x", 100): ErrRecordTooLarge,
	} {
		r := decode(t, m, msg)
		if !errors.Is(r.Err, want) || r.Fields[0].Kind != RawMissing {
			t.Errorf("%q: err %v, want %v; fields %+v", msg, r.Err, want, r.Fields)
		}
	}
}

func TestMessageDecoderCSV(t *testing.T) {
	if _, err := NewMessageDecoder("csv", []string{"id"}, CSVOptions{}); !errors.Is(err, ErrHeader) {
		t.Fatalf("CSV without columns: %v", err)
	}
	m, err := NewMessageDecoder("csv", []string{"amount", "id"}, CSVOptions{Columns: []string{"id", "amount", "note"}})
	if err != nil {
		t.Fatal(err)
	}
	r := decode(t, m, "a1,12.5,\"x, y\"\r\n")
	if r.Err != nil || string(r.Fields[0].Bytes) != "12.5" || string(r.Fields[1].Bytes) != "a1" {
		t.Fatalf("record = %+v", r)
	}
	r = decode(t, m, "b2,7,z")
	if r.Err != nil || string(r.Fields[0].Bytes) != "7" || string(r.Fields[1].Bytes) != "b2" {
		t.Fatalf("second record = %+v", r)
	}
	for msg, want := range map[string]error{
		"a,1":          ErrColumnCount,
		"a,1,x\nb,2,y": ErrColumnCount,
		"":             ErrColumnCount,
		"\"a,1,x":      ErrQuote,
		"a,\"1\"x\",z": ErrQuote,
	} {
		r := decode(t, m, msg)
		if !errors.Is(r.Err, want) {
			t.Errorf("%q: err %v, want %v", msg, r.Err, want)
		}
	}
	// Good messages still decode after bad ones.
	if r := decode(t, m, "c3,1,n"); r.Err != nil || string(r.Fields[1].Bytes) != "c3" {
		t.Fatalf("after errors: %+v", r)
	}
}

func BenchmarkMessageDecoderJSON(b *testing.B) {
	m, _ := NewMessageDecoder("json", []string{"user", "event_time", "amount", "kind"}, CSVOptions{})
	msg := []byte(`{"user":"u-000123","event_time":"2026-11-23T10:00:01.123Z","amount":1234.5,"kind":"purchase","session":"s-9f8e7d6c5b4a","agent":"Mozilla/5.0 (X11; Linux x86_64)","page":"/checkout/confirm"}`)
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if r, err := m.Decode(msg); err != nil || r.Err != nil {
			b.Fatal(err, r.Err)
		}
	}
}
