package e2e

import (
	"bytes"
	"context"
	"maps"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/sluice-etl/sluice/internal/localdeploy"
	"github.com/sluice-etl/sluice/internal/samtemplate"
	"github.com/sluice-etl/sluice/shared/handler"
)

// redeploy deploys the template again with params, as `sluice local
// deploy --param` does against the running stack.
func redeploy(t testing.TB, params map[string]string) {
	t.Helper()
	ctx := context.Background()
	tp, err := samtemplate.Load(stackView+"/template.yaml", "sluice", params)
	if err != nil {
		t.Fatal(err)
	}
	if tp.Account, err = localdeploy.Account(ctx, awsCfg); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	if err := localdeploy.Deploy(ctx, tp, localdeploy.NewClients(awsCfg), localdeploy.Options{BootstrapDir: stackView + "/bin/lambda", Arch: "x86_64", Log: &log}); err != nil {
		t.Fatalf("redeploy: %v\n%s", err, log.String())
	}
}

// metricsRecord is the status and error the metrics table holds for the
// run of an input key.
func metricsRecord(t *testing.T, key string) (status, errText string) {
	t.Helper()
	scan, err := ddb.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String("sluice-metrics-table")})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range scan.Items {
		src, _ := it["source"].(*ddbtypes.AttributeValueMemberS)
		if src == nil || !strings.HasSuffix(src.Value, key) {
			continue
		}
		if st, ok := it["status"].(*ddbtypes.AttributeValueMemberS); ok {
			status = st.Value
		}
		if er, ok := it["error"].(*ddbtypes.AttributeValueMemberS); ok {
			errText = er.Value
		}
	}
	return status, errText
}

// configFailures counts an execution's task failures by error.
func configFailures(t *testing.T, arn *string) map[string]int {
	t.Helper()
	out := map[string]int{}
	p := sfn.NewGetExecutionHistoryPaginator(sfnc, &sfn.GetExecutionHistoryInput{ExecutionArn: arn})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range page.Events {
			if d := ev.TaskFailedEventDetails; d != nil {
				out[aws.ToString(d.Error)]++
			}
		}
	}
	return out
}

// A user's own route: before it is deployed, the upload fails at once
// with the configuration error; `local deploy --param Specs=...` on the
// running stack then takes effect without a restart.
func TestRedeployWithANewSpecTakesEffect(t *testing.T) {
	needStack(t)
	data, _ := os.ReadFile("../examples/orders/orders.csv")
	before := seen(t)
	put(t, "incoming/mine/first.csv", data)
	execs := finished(t, before, 1)
	if execs[0].Status != sfntypes.ExecutionStatusFailed {
		t.Fatalf("no spec for the key: execution %s, want FAILED", execs[0].Status)
	}
	if got := configFailures(t, execs[0].ExecutionArn); got[handler.ConfigErrorType] != 1 || len(got) != 1 {
		t.Fatalf("task failures %v, want exactly one %s (no retries)", got, handler.ConfigErrorType)
	}
	// No spec, so no output folder: the failure is in the metrics table.
	if st, er := metricsRecord(t, "incoming/mine/first.csv"); st != "failed" || !strings.Contains(er, handler.ConfigErrorType) ||
		!strings.Contains(er, `no spec is configured for this key: \"incoming/mine/first.csv\"`) {
		t.Fatalf("the failure's record: status %q, error %q", st, er)
	}

	// The user's own spec: the orders example under another name, so its
	// output goes to a folder of its own.
	spec, err := os.ReadFile("../examples/orders/spec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	put(t, "specs/mine.yaml", bytes.Replace(spec, []byte("\nname: orders\n"), []byte("\nname: mine\n"), 1))
	params := maps.Clone(stackParams)
	params["Specs"] = strings.Replace(params["Specs"], `{`, `{"incoming/mine/":"s3://sluice-input-bucket/specs/mine.yaml",`, 1)
	redeploy(t, params)
	cfg, err := lambda.NewFromConfig(awsCfg).GetFunctionConfiguration(context.Background(),
		&lambda.GetFunctionConfigurationInput{FunctionName: aws.String("sluice-extract-function")})
	if err != nil || cfg.Environment.Variables["SLUICE_SPECS"] != params["Specs"] {
		t.Fatalf("get-function-configuration after the redeploy: %v %v", err, cfg)
	}
	before = seen(t)
	put(t, "incoming/mine/second.csv", data)
	execs = finished(t, before, 1)
	if execs[0].Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("after the redeploy: execution %s (%s)", execs[0].Status, failureCause(t, execs[0].ExecutionArn))
	}
	if m := manifestsFor(t, "incoming/mine/second.csv"); len(m) != 1 || !strings.HasPrefix(counts(m[0]), "25/10/12/3 succeeded") {
		t.Fatalf("after the redeploy: manifests %v", m)
	}
	if objs := listAll(t, "tables/mine/dt="); len(objs) != 3 {
		t.Fatalf("after the redeploy: %d data files under tables/mine/, want 3", len(objs))
	}
}
