package spec

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ErrWarehouse is returned for a glue warehouse that is not
// s3://bucket[/prefix].
var ErrWarehouse = errors.New("the glue catalog's warehouse must be s3://bucket[/prefix]")

// ParseWarehouse splits a glue warehouse, s3://bucket/prefix, into its
// bucket and key prefix (no slashes around it).
func ParseWarehouse(warehouse string) (bucket, prefix string, err error) {
	u, err := url.Parse(warehouse)
	if err != nil || u.Scheme != "s3" || u.Host == "" || u.RawQuery != "" {
		return "", "", fmt.Errorf("%w, not %q", ErrWarehouse, warehouse)
	}
	return u.Host, strings.Trim(u.Path, "/"), nil
}
