package spec

import (
	"errors"
	"testing"
)

func TestParseWarehouse(t *testing.T) {
	for _, tc := range []struct {
		in, bucket, prefix string
		ok                 bool
	}{
		{"s3://lake", "lake", "", true},
		{"s3://lake/", "lake", "", true},
		{"s3://lake/tables/prod/", "lake", "tables/prod", true},
		{"s3:///tables", "", "", false},
		{"file:///tmp/lake", "", "", false},
		{"lake/tables", "", "", false},
		{"s3://lake/t?region=x", "", "", false},
	} {
		b, p, err := ParseWarehouse(tc.in)
		if (err == nil) != tc.ok || b != tc.bucket || p != tc.prefix {
			t.Errorf("ParseWarehouse(%q) = %q %q %v", tc.in, b, p, err)
		}
		if err != nil && !errors.Is(err, ErrWarehouse) {
			t.Errorf("ParseWarehouse(%q): %v is not ErrWarehouse", tc.in, err)
		}
	}
}
