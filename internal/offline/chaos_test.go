package offline

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// backend stands in for moto: it records the BatchWriteItem items it
// received and answers every request 200.
type backend struct{ items int }

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".BatchWriteItem") {
		var in struct{ RequestItems map[string][]json.RawMessage }
		json.Unmarshal(body, &in)
		for _, reqs := range in.RequestItems {
			b.items += len(reqs)
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Write([]byte(`{"UnprocessedItems":{}}`))
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Write([]byte(`{}`))
}

func clients(t *testing.T, url, key string) (*dynamodb.Client, *s3.Client) {
	t.Helper()
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(url), RetryMaxAttempts: 1,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: key, SecretAccessKey: "x"}, nil
		})}
	return dynamodb.NewFromConfig(cfg), s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
}

func TestChaosAnswersAsAWSDoes(t *testing.T) {
	c := &chaos{}
	be := &backend{}
	srv := httptest.NewServer(c.wrap(be))
	defer srv.Close()
	ctx := context.Background()
	if err := c.set(&Chaos{Seed: 1, S3Errors: 1, DynamoThrottle: 1}); err != nil {
		t.Fatal(err)
	}
	db, s3c := clients(t, srv.URL, FunctionAccessKey)
	_, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("t"), Key: map[string]ddbtypes.AttributeValue{"k": &ddbtypes.AttributeValueMemberS{Value: "v"}}})
	var pte *ddbtypes.ProvisionedThroughputExceededException
	var api smithy.APIError
	if !errors.As(err, &api) || (!errors.As(err, &pte) && api.ErrorCode() != "ThrottlingException") {
		t.Fatalf("DynamoDB fault = %v", err)
	}
	_, err = s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String("k")})
	if !errors.As(err, &api) || (api.ErrorCode() != "InternalError" && api.ErrorCode() != "SlowDown") {
		t.Fatalf("S3 fault = %v", err)
	}
	// Requests not signed by the functions pass untouched.
	other, _ := clients(t, srv.URL, "testing")
	if _, err := other.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("t"), Key: map[string]ddbtypes.AttributeValue{"k": &ddbtypes.AttributeValueMemberS{Value: "v"}}}); err != nil {
		t.Fatalf("a test's own request met a fault: %v", err)
	}
	st := c.state()
	if st.Injected[FaultDynamoThrottle] != 1 || st.Injected[FaultS3Error] != 1 {
		t.Fatalf("injected = %v", st.Injected)
	}
}

func TestChaosUnprocessedItems(t *testing.T) {
	c := &chaos{}
	be := &backend{}
	srv := httptest.NewServer(c.wrap(be))
	defer srv.Close()
	if err := c.set(&Chaos{Seed: 2, Unprocessed: 1}); err != nil {
		t.Fatal(err)
	}
	db, _ := clients(t, srv.URL, FunctionAccessKey)
	var reqs []ddbtypes.WriteRequest
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		reqs = append(reqs, ddbtypes.WriteRequest{PutRequest: &ddbtypes.PutRequest{Item: map[string]ddbtypes.AttributeValue{"k": &ddbtypes.AttributeValueMemberS{Value: k}}}})
	}
	out, err := db.BatchWriteItem(context.Background(), &dynamodb.BatchWriteItemInput{RequestItems: map[string][]ddbtypes.WriteRequest{"t": reqs}})
	if err != nil {
		t.Fatal(err)
	}
	left := out.UnprocessedItems["t"]
	if be.items != 3 || len(left) != 2 || left[0].PutRequest.Item["k"].(*ddbtypes.AttributeValueMemberS).Value != "d" {
		t.Fatalf("backend got %d, unprocessed %d", be.items, len(left))
	}
}

func TestChaosIsSeeded(t *testing.T) {
	run := func(seed uint64) []bool {
		c := &chaos{}
		c.set(&Chaos{Seed: seed, S3Errors: 0.3})
		var out []bool
		for range 200 {
			out = append(out, c.roll(func(p *Chaos) float64 { return p.S3Errors }, FaultS3Error))
		}
		return out
	}
	a, b, other := run(7), run(7), run(8)
	hits := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatal("one seed gave two sequences")
		}
		if a[i] {
			hits++
		}
	}
	if hits < 40 || hits > 80 {
		t.Fatalf("%d of 200 at a 0.3 share", hits)
	}
	same := true
	for i := range a {
		same = same && a[i] == other[i]
	}
	if same {
		t.Fatal("two seeds gave one sequence")
	}
	c := &chaos{}
	if err := c.set(&Chaos{S3Errors: 1.5}); err == nil {
		t.Fatal("a share over 1 was accepted")
	}
	if c.roll(func(p *Chaos) float64 { return 1 }, "x") {
		t.Fatal("no plan, yet a fault")
	}
}
