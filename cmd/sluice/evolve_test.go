package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gluetypes "github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-etl/sluice/internal/motoserver"
	"github.com/sluice-etl/sluice/shared/adapter/table/icebergtable"
)

// The evolution tests' specs: v2 stops writing k, adds note between amt
// and at, and qty at the end; v3 makes amt a float.
const (
	evoV1 = `version: 1
name: events
fields:
  - {name: id, type: int, required: true}
  - {name: k, required: true}
  - {name: amt, type: int}
  - {name: at, type: timestamp, required: true}
sink:
  format: iceberg
  catalog: CATALOG
  table: {namespace: lake, name: events}
  partition_by:
    - {key: at_day, field: at, transform: day}
`
	evoInV1 = "id,k,amt,at\n1,a,10,2026-11-01T01:00:00Z\n2,b,20,2026-11-01T02:00:00Z\n"
	evoInV2 = "id,amt,note,at,qty\n3,30,x,2026-11-02T01:00:00Z,7\n"
)

func evoV2(v1 string) string {
	s := strings.Replace(v1, "  - {name: k, required: true}\n", "", 1)
	s = strings.Replace(s, "  - {name: at,", "  - {name: note}\n  - {name: at,", 1)
	return strings.Replace(s, "sink:", "  - {name: qty, type: int}\nsink:", 1)
}

func evoV3(v1 string) string {
	return strings.Replace(v1, "{name: amt, type: int}", "{name: amt, type: float}", 1)
}

// evoFiles writes the specs (catalog local, or glue with warehouse) and
// the inputs into a folder, and returns it.
func evoFiles(t *testing.T, catalog string) string {
	t.Helper()
	dir := t.TempDir()
	v1 := strings.Replace(evoV1, "CATALOG", catalog, 1)
	for name, text := range map[string]string{"v1.yaml": v1, "v2.yaml": evoV2(v1), "v3.yaml": evoV3(v1), "a.csv": evoInV1, "b.csv": evoInV2} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// The changes validate prints for v2 on a table of v1, and for v3.
var (
	evoV2Changes = []string{
		"table lake.events (schema 0): the next run changes it in one schema update:",
		"  add column note (string, optional)",
		"  add column qty (long, optional)",
		"  make column k optional: the spec no longer writes it",
	}
	evoV3Refused = []string{
		"table lake.events (schema 0): the spec's output is refused:",
		"  column amt is long in the table, double in the spec: Iceberg changes a column's type only from int to long, from float to double, " +
			"or from decimal(P, S) to a larger precision with the same scale",
	}
)

// lines splits output into lines, the first (the spec's ok line) left
// out.
func lines(out string) []string {
	l := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	return l[1:]
}

// words is text with its runs of spaces made one.
func words(text string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		out = append(out, strings.Join(strings.Fields(l), " "))
	}
	return strings.Join(out, "\n")
}

// sluice validate with the local catalog: before the table exists, on
// the table of the same spec, the changes a new spec makes, and the
// changes it refuses (exit 1). Then sluice table history shows the
// schema each snapshot was written with, and the schema update.
func TestValidateAndHistoryOfAnEvolvingTable(t *testing.T) {
	dir := evoFiles(t, "local")
	out := filepath.Join(dir, "out")
	spec := func(v string) string { return filepath.Join(dir, v+".yaml") }

	code, stdout, stderr := runCLI(t, "validate", "--output", out, spec("v1"))
	if want := "table lake.events: no catalog in " + out + ": the first run creates it"; code != 0 || !slices.Equal(lines(stdout), []string{want}) {
		t.Fatalf("validate before any run: exit %d\n%s%s\nwant %s", code, stdout, stderr, want)
	}
	if code, _, stderr := runCLI(t, "run", "--spec", spec("v1"), "--input", filepath.Join(dir, "a.csv"), "--output", out, "--quiet"); code != 0 {
		t.Fatalf("run v1: %s", stderr)
	}
	code, stdout, _ = runCLI(t, "validate", spec("v1"), "--output", out) // flags after the spec too
	if want := "table lake.events (schema 0): takes the spec's output as it is"; code != 0 || !slices.Equal(lines(stdout), []string{want}) {
		t.Errorf("validate v1: exit %d\n%s\nwant %s", code, stdout, want)
	}
	code, stdout, _ = runCLI(t, "validate", "--output", out, spec("v2"))
	if code != 0 || !slices.Equal(lines(stdout), evoV2Changes) {
		t.Errorf("validate v2: exit %d\n%s\nwant\n%s", code, stdout, strings.Join(evoV2Changes, "\n"))
	}
	code, stdout, stderr = runCLI(t, "validate", "--output", out, spec("v3"))
	if code != 1 || !slices.Equal(lines(stdout), evoV3Refused) || stderr != "sluice validate: lake.events cannot take the spec's output: 1 change refused\n" {
		t.Errorf("validate v3: exit %d\n%s%s\nwant\n%s", code, stdout, stderr, strings.Join(evoV3Refused, "\n"))
	}

	if code, _, stderr := runCLI(t, "run", "--spec", spec("v2"), "--input", filepath.Join(dir, "b.csv"), "--output", out, "--quiet"); code != 0 {
		t.Fatalf("run v2: %s", stderr)
	}
	code, stdout, stderr = runCLI(t, "table", "history", "--output", out, "--table", "lake.events")
	if code != 0 {
		t.Fatalf("history: %s", stderr)
	}
	text := words(stdout)
	for _, want := range []string{
		"SNAPSHOT TIME OPERATION RUN SOURCE IN OUT REJECTED FILTERED ADDED DELETED TOTAL SCHEMA",
		"/a.csv 2 2 0 0 2 0 2 0\n",
		"/b.csv 1 1 0 0 1 0 3 1\n",
		"SCHEMA COLUMNS CHANGES\n0 4 -\n1 (current) 6 made k optional; added note (string, optional); added qty (long, optional)\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("history lacks %q:\n%s", want, stdout)
		}
	}
	code, stdout, _ = runCLI(t, "table", "history", "--output", out, "--table", "lake.events", "--json")
	var hist []icebergtable.SnapshotInfo
	if err := json.Unmarshal([]byte(stdout), &hist); code != 0 || err != nil {
		t.Fatalf("history --json: exit %d, %v", code, err)
	}
	if len(hist) != 2 || hist[0].SchemaID != 0 || hist[1].SchemaID != 1 ||
		!slices.Equal(hist[1].SchemaChanges, []string{"made k optional", "added note (string, optional)", "added qty (long, optional)"}) {
		t.Errorf("history --json = %+v", hist)
	}
}

func TestValidateFlagErrors(t *testing.T) {
	dir := evoFiles(t, "local")
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"validate"}, 2, "usage: sluice validate"},
		{[]string{"validate", "--catalog", "hive", filepath.Join(dir, "v1.yaml")}, 2, `--catalog must be local or glue, not "hive"`},
		{[]string{"validate", "--catalog", "glue", filepath.Join(dir, "v1.yaml")}, 2, "--catalog glue needs --warehouse"},
		{[]string{"validate", "--output", dir, "../../examples/orders/spec.yaml"}, 2, "the spec's jsonl sink has no table to check against"},
	} {
		code, _, stderr := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.msg) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, stderr, tc.code, tc.msg)
		}
	}
}

// On moto: sluice validate with the glue catalog says what the next run
// changes in the iceberg table, as with the local one; and for a parquet
// sink registered in Glue, what it changes in the Glue table (a column
// no longer written is kept, a new one added) or refuses.
func TestValidateOnGlue(t *testing.T) {
	cfg := motoserver.ForTest(t)
	ep := aws.ToString(cfg.BaseEndpoint)
	ctx := context.Background()
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("lake")}); err != nil {
		t.Fatal(err)
	}
	dir := evoFiles(t, "glue\n  warehouse: s3://lake/tables")
	spec := func(v string) string { return filepath.Join(dir, v+".yaml") }
	glueFlags := []string{"--catalog", "glue", "--endpoint", ep} // the warehouse is the spec's
	if code, _, stderr := runCLI(t, "run", "--spec", spec("v1"), "--input", filepath.Join(dir, "a.csv"), "--output", filepath.Join(dir, "out"), "--endpoint", ep, "--quiet"); code != 0 {
		t.Fatalf("run v1: %s", stderr)
	}
	code, stdout, stderr := runCLI(t, append(append([]string{"validate"}, glueFlags...), spec("v2"))...)
	if code != 0 || !slices.Equal(lines(stdout), evoV2Changes) {
		t.Errorf("validate v2 on glue: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, _ = runCLI(t, append(append([]string{"validate"}, glueFlags...), spec("v3"))...)
	if code != 1 || !slices.Equal(lines(stdout), evoV3Refused) {
		t.Errorf("validate v3 on glue: exit %d\n%s", code, stdout)
	}

	// A parquet sink registered in the Glue database sales.
	gc := glue.NewFromConfig(cfg)
	if _, err := gc.CreateDatabase(ctx, &glue.CreateDatabaseInput{DatabaseInput: &gluetypes.DatabaseInput{Name: aws.String("sales")}}); err != nil {
		t.Fatal(err)
	}
	plain := `version: 1
fields:
  - {name: id, type: int, required: true}
  - {name: k}
  - {name: amt, type: int}
  - {name: at, type: timestamp}
sink: {format: parquet, catalog: glue, table: {namespace: sales, name: events}}
`
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p1, p2 := write("p1.yaml", plain), write("p2.yaml", strings.Replace(plain, "  - {name: k}\n", "  - {name: note}\n", 1))
	p3 := write("p3.yaml", strings.Replace(plain, "{name: amt, type: int}", "{name: amt}", 1))
	location := []string{"--output", "s3://lake/events", "--endpoint", ep}
	code, stdout, _ = runCLI(t, append(append([]string{"validate"}, location...), p1)...)
	if want := "glue table sales.events: does not exist: the first run creates it"; code != 0 || !slices.Equal(lines(stdout), []string{want}) {
		t.Errorf("validate before the first run: exit %d\n%s", code, stdout)
	}
	if code, _, stderr := runCLI(t, "run", "--spec", p1, "--input", filepath.Join(dir, "a.csv"), "--output", "s3://lake/events", "--endpoint", ep, "--quiet"); code != 0 {
		t.Fatalf("run p1: %s", stderr)
	}
	code, stdout, _ = runCLI(t, append(append([]string{"validate"}, location...), p2)...)
	want := []string{"glue table sales.events: the next run updates it:", "  add column note (string)",
		"  keep column k: the spec no longer writes it, so new rows have no value for it"}
	if code != 0 || !slices.Equal(lines(stdout), want) {
		t.Errorf("validate p2: exit %d\n%s\nwant\n%s", code, stdout, strings.Join(want, "\n"))
	}
	code, stdout, stderr = runCLI(t, append(append([]string{"validate"}, location...), p3)...)
	want = []string{"glue table sales.events: the spec's output is refused:",
		"  column amt is bigint in the table, string in the spec: a column's type changes only to a wider one " +
			"(tinyint, smallint or int to a wider integer, float to double, decimal(P,S) to a larger precision with the same scale)"}
	if code != 1 || !slices.Equal(lines(stdout), want) || !strings.Contains(stderr, "glue table sales.events cannot take the spec's output: 1 change refused") {
		t.Errorf("validate p3: exit %d\n%s%s\nwant\n%s", code, stdout, stderr, strings.Join(want, "\n"))
	}
}
