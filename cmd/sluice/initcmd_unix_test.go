//go:build unix

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-etl/sluice/internal/motoserver"
)

// A pipe is read only as far as the sample goes, not to its end: init
// returns while the writer still has data for it.
func TestInitFromPipe(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("id,amount\n")
	for i := range 200_000 {
		b.WriteString(strings.Repeat("7", 1+i%3) + ",1.25\n")
	}
	in := pipeInput(t, b.Bytes())
	spec := filepath.Join(t.TempDir(), "spec.yaml")
	code, out, stderr := runCLI(t, "init", "--from", in, "--records", "100", "--out", spec)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, ": 2 fields from 100 records of "+filepath.Base(in)+" (csv, uncompressed)\n") {
		t.Errorf("init said %q", out)
	}
	doc, err := os.ReadFile(spec)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(doc, []byte("# Written by sluice init from the first 100 records of")) ||
		!bytes.Contains(doc, []byte("  - name: amount\n    type: decimal\n    scale: 2")) {
		t.Errorf("spec:\n%s", doc)
	}
}

// An s3:// input is opened as sluice run opens it (AWS_ENDPOINT_URL
// reaches moto here), and a gzip object is settled as run settles it.
func TestInitFromS3(t *testing.T) {
	cfg := motoserver.ForTest(t)
	ctx := context.Background()
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("samples")}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("../../shared/core/infer/testdata/dirty.csv")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("samples"), Key: aws.String("in/dirty.csv.gz"),
		Body: bytes.NewReader(gzipped(t, data))}); err != nil {
		t.Fatal(err)
	}
	spec := filepath.Join(t.TempDir(), "spec.yaml")
	code, out, stderr := runCLI(t, "init", "--from", "s3://samples/in/dirty.csv.gz", "--out", spec)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.HasPrefix(out, "wrote "+spec+": 4 fields from 60 records of dirty.csv.gz (csv, gzip)\n  on the sample: 58 kept, 2 rejected") {
		t.Errorf("init said %q", out)
	}
	doc, err := os.ReadFile(spec)
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile("../../shared/core/infer/testdata/dirty_gzip.golden.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(doc, golden) {
		t.Errorf("spec differs from the gzip golden spec:\n%s", doc)
	}
}
