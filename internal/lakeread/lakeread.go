// Package lakeread reads sluice's tables back with independent readers,
// for tests: icebird, an Iceberg client for JavaScript, run by node on
// read.mjs beside this file (Read), and DuckDB's Node API on duck.mjs,
// which reads the files a Glue table registers as its SerDe says
// (ReadGlue). `make lakeread` (and .ci/run) installs both into
// node_modules here, which git ignores.
//
// A test that needs them is skipped when node is not installed, outside
// CI only; under CI=true that fails it, and so does a missing install
// anywhere (`make test` runs `make lakeread` first).
package lakeread

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
)

// Result is what icebird read from a table's current snapshot.
type Result struct {
	Count int64    `json:"count"`
	Sum   string   `json:"sum"`  // of the sum column, in decimal
	Keys  []string `json:"keys"` // distinct values of the key column, sorted as strings
	// Nulls are the rows whose null column (ReadNulls, ReadS3Nulls) is
	// null, or absent from the row's data file.
	Nulls int64 `json:"nulls"`
}

// dir is this package's folder: read.mjs and node_modules.
func dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

// HasNode reports whether node is installed.
func HasNode() bool {
	_, err := exec.LookPath("node")
	return err == nil
}

// Installed reports whether icebird is installed beside read.mjs.
func Installed() bool {
	_, err := os.Stat(filepath.Join(dir(), "node_modules", "icebird", "package.json"))
	return err == nil
}

// Require skips the test when node is not installed, outside CI; under
// CI=true, or when node is there but icebird is not, it fails the test.
func Require(t testing.TB) {
	t.Helper()
	switch {
	case !HasNode() && os.Getenv("CI") != "true":
		t.Skip("independent reader: node is not installed")
	case !HasNode():
		t.Fatal("independent reader: node is not installed (CI=true)")
	case !Installed():
		t.Fatal("independent reader: icebird is not installed in internal/lakeread: run make lakeread")
	}
}

// Read reads the table in folder location (its metadata/ holds the
// metadata files) at its latest metadata file, and returns the row count,
// the sum of sumColumn and the distinct values of keyColumn.
func Read(t testing.TB, location, sumColumn, keyColumn string) Result {
	t.Helper()
	return ReadNulls(t, location, sumColumn, keyColumn, "")
}

// ReadNulls is Read, and counts the rows whose nullColumn is null or
// absent from the row's data file.
func ReadNulls(t testing.TB, location, sumColumn, keyColumn, nullColumn string) Result {
	t.Helper()
	Require(t)
	meta, err := LatestMetadata(location)
	if err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(location)
	if err != nil {
		t.Fatal(err)
	}
	tableURL := (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()
	return run(t, nil, tableURL, meta, sumColumn, keyColumn, "", nullColumn)
}

// ReadAt reads the local table in folder location as of one of its
// metadata files (a name in location/metadata): what a reader that loaded
// the table then would see.
func ReadAt(t testing.TB, location, metadataFile, sumColumn, keyColumn string) Result {
	t.Helper()
	Require(t)
	abs, err := filepath.Abs(location)
	if err != nil {
		t.Fatal(err)
	}
	tableURL := (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()
	return run(t, nil, tableURL, metadataFile, sumColumn, keyColumn, "", "")
}

// Metadata lists the metadata files of the local table in location, oldest
// first.
func Metadata(location string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(location, "metadata"))
	if err != nil {
		return nil, fmt.Errorf("table metadata: %w", err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".metadata.json") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// ReadS3 reads the table whose current metadata file is metadataLocation
// (s3://bucket/.../metadata/NAME.metadata.json, as a catalog such as Glue
// points at it) from the S3 endpoint s3Endpoint (moto), with icebird.
// Only the rows whose key starts with keyPrefix count.
func ReadS3(t testing.TB, s3Endpoint, metadataLocation, sumColumn, keyColumn, keyPrefix string) Result {
	t.Helper()
	return ReadS3Nulls(t, s3Endpoint, metadataLocation, sumColumn, keyColumn, keyPrefix, "")
}

// ReadS3Nulls is ReadS3, and counts the rows whose nullColumn is null or
// absent from the row's data file.
func ReadS3Nulls(t testing.TB, s3Endpoint, metadataLocation, sumColumn, keyColumn, keyPrefix, nullColumn string) Result {
	t.Helper()
	Require(t)
	tableURL, meta, ok := strings.Cut(metadataLocation, "/metadata/")
	if !ok || !strings.HasPrefix(tableURL, "s3://") || strings.Contains(meta, "/") {
		t.Fatalf("metadata location %q is not s3://.../metadata/NAME", metadataLocation)
	}
	return run(t, []string{"SLUICE_S3_ENDPOINT=" + strings.TrimSuffix(s3Endpoint, "/")}, tableURL, meta, sumColumn, keyColumn, keyPrefix, nullColumn)
}

// run has icebird read the table at tableURL.
func run(t testing.TB, env []string, tableURL, meta, sumColumn, keyColumn, keyPrefix, nullColumn string) Result {
	t.Helper()
	args := []string{filepath.Join(dir(), "read.mjs"), tableURL, meta, sumColumn, keyColumn, keyPrefix}
	if nullColumn != "" {
		args = append(args, nullColumn)
	}
	cmd := exec.Command("node", args...)
	cmd.Dir = dir()
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("icebird read %s: %v\n%s", tableURL, err, stderr.String())
	}
	var r Result
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("icebird read %s: %v: %s", tableURL, err, out)
	}
	return r
}

// LatestMetadata is the name of the newest metadata file in
// location/metadata: iceberg-go numbers them 00000-..., 00001-...
func LatestMetadata(location string) (string, error) {
	entries, err := os.ReadDir(filepath.Join(location, "metadata"))
	if err != nil {
		return "", fmt.Errorf("table metadata: %w", err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".metadata.json") {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return "", fmt.Errorf("no metadata file in %s/metadata", location)
	}
	sort.Strings(names)
	return names[len(names)-1], nil
}
