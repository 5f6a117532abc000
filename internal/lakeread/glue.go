package lakeread

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// GlueResult is what DuckDB read from the files a Glue table registers.
type GlueResult struct {
	Count int64  `json:"count"`
	Sum   string `json:"sum"` // of the sum column, in decimal
	// Nulls are the rows whose null column (ReadGlueNulls) is null or
	// absent from the row's file.
	Nulls int64 `json:"nulls"`
	// Partitions are the registered partitions' values, each list
	// joined by "/", sorted; Locations their locations, in that order.
	Partitions, Locations []string
	// Keys are the S3 keys DuckDB read, sorted.
	Keys []string
	// Columns are the files' columns in the order DuckDB shows them.
	Columns []string `json:"columns"`
	// Encodings are, for Parquet files, each column's encodings as
	// DuckDB's parquet_metadata lists them in the first file's first row
	// group ("RLE, DELTA_BINARY_PACKED").
	Encodings map[string]string `json:"encodings"`
}

// DuckDBInstalled reports whether @duckdb/node-api is installed beside
// duck.mjs.
func DuckDBInstalled() bool {
	_, err := os.Stat(filepath.Join(dir(), "node_modules", "@duckdb", "node-api", "package.json"))
	return err == nil
}

// RequireDuckDB skips the test when node is not installed, outside CI;
// under CI=true, or when node is there but DuckDB is not, it fails the
// test.
func RequireDuckDB(t testing.TB) {
	t.Helper()
	switch {
	case !HasNode() && os.Getenv("CI") != "true":
		t.Skip("independent reader: node is not installed")
	case !HasNode():
		t.Fatal("independent reader: node is not installed (CI=true)")
	case !DuckDBInstalled():
		t.Fatal("independent reader: @duckdb/node-api is not installed in internal/lakeread: run make lakeread")
	}
}

// ReadGlue reads a Glue table as a Glue-aware engine would, with DuckDB
// instead of the engine: it lists the table's partitions (or takes the
// table's location when it has no partition keys), downloads every
// object under those locations whose path below the location has no
// segment starting with _ or . (the names Athena skips) into a temporary
// folder, and has DuckDB read them in the format the table's SerDe
// names, with its delimiter and quote for CSV. It returns the row count
// and the sum of sumColumn.
func ReadGlue(t testing.TB, cfg aws.Config, database, table, sumColumn string) GlueResult {
	t.Helper()
	return ReadGlueNulls(t, cfg, database, table, sumColumn, "")
}

// ReadGlueNulls is ReadGlue, reading the files by column name (a column
// a file lacks is null, as Athena reads a table whose later columns
// older files lack), and counts the rows whose nullColumn is null.
func ReadGlueNulls(t testing.TB, cfg aws.Config, database, table, sumColumn, nullColumn string) GlueResult {
	t.Helper()
	RequireDuckDB(t)
	ctx := context.Background()
	gc := glue.NewFromConfig(cfg)
	sc := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	tbl, err := gc.GetTable(ctx, &glue.GetTableInput{DatabaseName: &database, Name: &table})
	if err != nil {
		t.Fatalf("glue table %s.%s: %v", database, table, err)
	}
	var res GlueResult
	res.Partitions, res.Locations = registered(t, gc, tbl.Table)
	folder := t.TempDir()
	var files []string
	for _, loc := range res.Locations {
		for _, key := range visibleObjects(t, sc, loc) {
			files = append(files, download(t, sc, loc, key, folder))
			res.Keys = append(res.Keys, key)
		}
	}
	slices.Sort(res.Keys)
	if len(files) == 0 {
		return res
	}
	req := duckRequest(t, tbl.Table.StorageDescriptor.SerdeInfo)
	req["files"], req["sum"] = files, sumColumn
	if nullColumn != "" {
		req["nulls"] = nullColumn
	}
	runDuck(t, req, &res)
	return res
}

// registered lists the partitions of t, sorted by value, or t's own
// location when it has no partition keys.
func registered(tb testing.TB, gc *glue.Client, t *types.Table) (values, locations []string) {
	tb.Helper()
	if len(t.PartitionKeys) == 0 {
		return nil, []string{aws.ToString(t.StorageDescriptor.Location)}
	}
	type part struct{ values, location string }
	var parts []part
	pages := glue.NewGetPartitionsPaginator(gc, &glue.GetPartitionsInput{DatabaseName: t.DatabaseName, TableName: t.Name})
	for pages.HasMorePages() {
		page, err := pages.NextPage(context.Background())
		if err != nil {
			tb.Fatalf("get partitions of %s: %v", aws.ToString(t.Name), err)
		}
		for _, p := range page.Partitions {
			parts = append(parts, part{strings.Join(p.Values, "/"), aws.ToString(p.StorageDescriptor.Location)})
		}
	}
	slices.SortFunc(parts, func(a, b part) int { return strings.Compare(a.values, b.values) })
	for _, p := range parts {
		values, locations = append(values, p.values), append(locations, p.location)
	}
	return values, locations
}

// visibleObjects are the keys under an s3:// location that Athena reads:
// no path segment below the location starts with _ or . .
func visibleObjects(t testing.TB, sc *s3.Client, location string) []string {
	t.Helper()
	bucket, prefix := splitS3(t, location)
	var keys []string
	pages := s3.NewListObjectsV2Paginator(sc, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: &prefix})
	for pages.HasMorePages() {
		page, err := pages.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list %s: %v", location, err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			if !hidden(strings.TrimPrefix(key, prefix)) {
				keys = append(keys, key)
			}
		}
	}
	return keys
}

func hidden(rel string) bool {
	for seg := range strings.SplitSeq(rel, "/") {
		if strings.HasPrefix(seg, "_") || strings.HasPrefix(seg, ".") {
			return true
		}
	}
	return false
}

// splitS3 splits s3://bucket/prefix/ into the bucket and the key prefix,
// which ends in / unless empty.
// The location is taken literally, as Hive and Trino take it: a partition
// folder's %XX escapes are part of the key.
func splitS3(t testing.TB, location string) (bucket, prefix string) {
	t.Helper()
	rest, ok := strings.CutPrefix(location, "s3://")
	bucket, prefix, _ = strings.Cut(rest, "/")
	if !ok || bucket == "" {
		t.Fatalf("location %q is not s3://bucket/prefix", location)
	}
	if prefix = strings.Trim(prefix, "/"); prefix != "" {
		prefix += "/"
	}
	return bucket, prefix
}

// download copies one object into folder, under its key, and returns the
// file's path.
func download(t testing.TB, sc *s3.Client, location, key, folder string) string {
	t.Helper()
	bucket, _ := splitS3(t, location)
	obj, err := sc.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		t.Fatalf("get s3://%s/%s: %v", bucket, key, err)
	}
	defer obj.Body.Close()
	path := filepath.Join(folder, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(f, obj.Body); err != nil {
		t.Fatalf("get s3://%s/%s: %v", bucket, key, err)
	}
	return path
}

// duckRequest is how DuckDB reads files of the table's SerDe.
func duckRequest(t testing.TB, serde *types.SerDeInfo) map[string]any {
	t.Helper()
	lib := aws.ToString(serde.SerializationLibrary)
	switch {
	case strings.HasSuffix(lib, ".ParquetHiveSerDe"):
		return map[string]any{"format": "parquet"}
	case lib == "org.openx.data.jsonserde.JsonSerDe", lib == "org.apache.hive.hcatalog.data.JsonSerDe":
		return map[string]any{"format": "json"}
	case lib == "org.apache.hadoop.hive.serde2.OpenCSVSerde":
		return map[string]any{"format": "csv", "delimiter": serde.Parameters["separatorChar"], "quote": serde.Parameters["quoteChar"]}
	}
	t.Fatalf("no DuckDB reader for SerDe %s", lib)
	return nil
}

// runDuck runs duck.mjs on req and reads its count and sum into res.
func runDuck(t testing.TB, req map[string]any, res *GlueResult) {
	t.Helper()
	arg, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", filepath.Join(dir(), "duck.mjs"), string(arg))
	cmd.Dir = dir()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("duckdb read: %v\n%s", err, stderr.String())
	}
	if err := json.Unmarshal(out, res); err != nil {
		t.Fatalf("duckdb read: %v: %s", err, out)
	}
}

// ReadParquetS3 has DuckDB read every Parquet object under location
// (s3://bucket/prefix/, names starting with _ or . skipped), as files
// downloaded from the endpoint cfg reaches: an iceberg table's data
// files, read without the table's metadata. It returns the row count, the
// sum of sumColumn and the keys read.
func ReadParquetS3(t testing.TB, cfg aws.Config, location, sumColumn string) GlueResult {
	t.Helper()
	RequireDuckDB(t)
	sc := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	var res GlueResult
	folder := t.TempDir()
	var files []string
	for _, key := range visibleObjects(t, sc, location) {
		files = append(files, download(t, sc, location, key, folder))
		res.Keys = append(res.Keys, key)
	}
	slices.Sort(res.Keys)
	if len(files) == 0 {
		return res
	}
	runDuck(t, map[string]any{"format": "parquet", "files": files, "sum": sumColumn}, &res)
	return res
}

// ReadFiles has DuckDB read local files of one format ("parquet",
// "json" for JSON Lines, or "csv" with a comma and a double quote): the
// row count and the sum of sumColumn.
func ReadFiles(t testing.TB, format string, files []string, sumColumn string) GlueResult {
	t.Helper()
	RequireDuckDB(t)
	res := GlueResult{Keys: slices.Sorted(slices.Values(files))}
	if len(files) == 0 {
		return res
	}
	req := map[string]any{"format": format, "files": files, "sum": sumColumn}
	if format == "csv" {
		req["delimiter"], req["quote"] = ",", `"`
	}
	runDuck(t, req, &res)
	return res
}
