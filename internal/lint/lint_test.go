package lint_test

import (
	"os"
	"strings"
	"testing"

	"github.com/sluice-etl/sluice/internal/lint"
)

func TestRepoTemplateAndStateMachineAreClean(t *testing.T) {
	problems, err := lint.Files("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
	def, err := os.ReadFile("../../statemachine/etl.asl.json")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(lint.Placeholders(def), ","); got != "ExtractFunctionArn,LoadFunctionArn,TransformFunctionArn" {
		t.Errorf("placeholders = %s", got)
	}
}

const goodASL = `{"StartAt":"A","States":{
 "A":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"${F}"},
      "Retry":[{"ErrorEquals":["Lambda.ServiceException","Lambda.AWSLambdaException","Lambda.SdkClientException"]}],
      "Catch":[{"ErrorEquals":["States.ALL"],"Next":"Failed"}],"Next":"C"},
 "C":{"Type":"Choice","Choices":[{"Variable":"$.x","BooleanEquals":true,"Next":"M"}],"Default":"Done"},
 "M":{"Type":"Map","ItemProcessor":{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
      "Retry":[{"ErrorEquals":["Sluice.ConfigError"],"MaxAttempts":0},{"ErrorEquals":["States.ALL"]}],"End":true}}},"Next":"Done"},
 "Done":{"Type":"Succeed"},
 "Failed":{"Type":"Fail"}}}`

func TestASLProblems(t *testing.T) {
	if p := lint.ASL("good.json", []byte(goodASL)); len(p) != 0 {
		t.Fatalf("good definition: %v", p)
	}
	for _, c := range []struct {
		name, from, to, want string
	}{
		{"missing Next target", `"Next":"C"}`, `"Next":"Nowhere"}`, `good.json: A.Next: target "Nowhere" does not exist`},
		{"missing Default", `"Default":"Done"`, `"Default":"Gone"`, `good.json: C.Default: target "Gone" does not exist`},
		{"missing Catch target", `"Next":"Failed"`, `"Next":"Nope"`, `good.json: A.Catch[0].Next: target "Nope" does not exist`},
		{"unreachable", `"Next":"C"}`, `"Next":"Done"}`, `good.json: C: unreachable from StartAt "A"`},
		{"no retry", `"Retry":[{"ErrorEquals":["Lambda.ServiceException","Lambda.AWSLambdaException","Lambda.SdkClientException"]}],`, ``, `good.json: A.Retry: Lambda task does not retry Lambda.ServiceException`},
		{"no retry in map", `"Retry":[{"ErrorEquals":["Sluice.ConfigError"],"MaxAttempts":0},{"ErrorEquals":["States.ALL"]}],"End":true`, `"End":true`, `good.json: M.ItemProcessor.T.Retry: Lambda task does not retry Lambda.SdkClientException`},
		{"config errors retried", `{"ErrorEquals":["Sluice.ConfigError"],"MaxAttempts":0},`, ``,
			`good.json: M.ItemProcessor.T.Retry[0]: retries Sluice.ConfigError: a configuration error must fail the execution at once (put {"ErrorEquals": ["Sluice.ConfigError"], "MaxAttempts": 0} first)`},
		{"config errors retried after others", `"Retry":[{"ErrorEquals":["Lambda.ServiceException"`, `"Retry":[{"ErrorEquals":["States.TaskFailed"]},{"ErrorEquals":["Lambda.ServiceException"`,
			`good.json: A.Retry[0]: retries Sluice.ConfigError: a configuration error must fail the execution at once (put {"ErrorEquals": ["Sluice.ConfigError"], "MaxAttempts": 0} first)`},
		{"no end", `}}},"Next":"Done"}`, `}}}}`, `good.json: M: neither Next nor End`},
		{"bad StartAt", `"StartAt":"A"`, `"StartAt":"Z"`, `good.json: StartAt: StartAt "Z" names no state`},
	} {
		def := strings.Replace(goodASL, c.from, c.to, 1)
		if def == goodASL {
			t.Fatalf("%s: replacement did not apply", c.name)
		}
		var got []string
		for _, p := range lint.ASL("good.json", []byte(def)) {
			got = append(got, p.String())
		}
		found := false
		for _, g := range got {
			found = found || g == c.want
		}
		if !found {
			t.Errorf("%s: problems %q lack %q", c.name, got, c.want)
		}
	}
	if p := lint.ASL("bad.json", []byte(`{"StartAt":`)); len(p) != 1 || !strings.Contains(p[0].Msg, "does not parse") {
		t.Errorf("unparsable: %v", p)
	}
}

func TestTemplateProblems(t *testing.T) {
	tmpl, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	read := func(p string) ([]byte, error) { return os.ReadFile("../../" + p) }
	for _, c := range []struct {
		name, from, to, want string
	}{
		{"missing substitution", "        LoadFunctionArn: !GetAtt LoadFunction.Arn\n", "",
			"template.yaml: Resources.EtlStateMachine.Properties.DefinitionSubstitutions: statemachine/etl.asl.json uses ${LoadFunctionArn}, which has no entry"},
		{"unused substitution", "        LoadFunctionArn: !GetAtt LoadFunction.Arn\n", "        LoadFunctionArn: !GetAtt LoadFunction.Arn\n        Extra: x\n",
			"template.yaml: Resources.EtlStateMachine.Properties.DefinitionSubstitutions: Extra is not used by statemachine/etl.asl.json"},
		{"required env missing", "          SLUICE_METRICS_TABLE: !Ref MetricsTable\n", "",
			"template.yaml: Resources.LoadFunction.Properties.Environment: load reads SLUICE_METRICS_TABLE, which is not set"},
		{"misspelled env", "          SLUICE_METRICS_TABLE: !Ref MetricsTable\n", "          SLUICE_METRIC_TABLE: !Ref MetricsTable\n",
			"template.yaml: Resources.LoadFunction.Properties.Environment: SLUICE_METRIC_TABLE is set but the load function does not read it"},
		{"unknown function", "      SluiceFunction: transform\n", "      SluiceFunction: transfrom\n",
			`template.yaml: Resources.TransformFunction.Metadata.SluiceFunction: must name the sluice function (extract, transform, load or commit), not "transfrom"`},
		{"no FunctionResponseTypes", "      FunctionResponseTypes: [ReportBatchItemFailures]\n", "",
			"template.yaml: Resources.InputStreamMapping.Properties: ExtractFunction returns BatchItemFailures, but FunctionResponseTypes does not list ReportBatchItemFailures: Lambda would ignore them and retry whole batches"},
		{"parallel batches per shard", "      ParallelizationFactor: 1\n", "      ParallelizationFactor: 4\n",
			"template.yaml: Resources.InputStreamMapping.Properties.ParallelizationFactor: must be 1: a shard's checkpoint orders its records, and concurrent batches of one shard would skip each other's records"},
		{"no OnFailure destination", "      DestinationConfig:\n        OnFailure: {Destination: !GetAtt StreamFailureQueue.Arn}\n", "",
			"template.yaml: Resources.InputStreamMapping.Properties.DestinationConfig: no OnFailure destination: records that use up their retries would be dropped without a trace"},
		{"SAM Kinesis event without FunctionResponseTypes", "      Events:\n        # A shard that goes quiet",
			"      Events:\n        Clicks:\n          Type: Kinesis\n          Properties:\n            Stream: !GetAtt InputStream.Arn\n            StartingPosition: LATEST\n            DestinationConfig: {OnFailure: {Destination: !GetAtt StreamFailureQueue.Arn}}\n        # A shard that goes quiet",
			"template.yaml: Resources.ExtractFunction.Properties.Events.Clicks.Properties: ExtractFunction returns BatchItemFailures, but FunctionResponseTypes does not list ReportBatchItemFailures: Lambda would ignore them and retry whole batches"},
		{"data action on every resource", "              Action: [dynamodb:PutItem]\n              Resource: !GetAtt MetricsTable.Arn\n",
			"              Action: [dynamodb:PutItem]\n              Resource: \"*\"\n",
			`template.yaml: Resources.LoadFunction.Properties.Policies[0].Statement[5]: dynamodb:PutItem on Resource "*": scope data actions to the resources they need`},
		{"wildcard in a resource list", "              Action: [s3:GetObject]\n              Resource: !Sub \"${StagingBucket.Arn}/runs/*\"\n",
			"              Action: [s3:GetObject]\n              Resource: [\"*\"]\n",
			`template.yaml: Resources.EtlStateMachine.Properties.Policies[3].Statement[0]: s3:GetObject on Resource "*": scope data actions to the resources they need`},
		{"unencrypted bucket", "  StagingBucket:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketEncryption:\n        ServerSideEncryptionConfiguration:\n          - ServerSideEncryptionByDefault: {SSEAlgorithm: AES256}\n            BucketKeyEnabled: true\n",
			"  StagingBucket:\n    Type: AWS::S3::Bucket\n    Properties:\n",
			"template.yaml: Resources.StagingBucket.Properties.BucketEncryption: the bucket is not encrypted by default"},
		{"bucket without the TLS deny", "            Resource: [!GetAtt OutputBucket.Arn, !Sub \"${OutputBucket.Arn}/*\"]\n            Condition: {Bool: {\"aws:SecureTransport\": \"false\"}}\n",
			"            Resource: [!GetAtt OutputBucket.Arn, !Sub \"${OutputBucket.Arn}/*\"]\n",
			"template.yaml: Resources.OutputBucket.Properties: no bucket policy denies requests without TLS (aws:SecureTransport false)"},
		{"public bucket", "  InputBucket:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketEncryption:\n        ServerSideEncryptionConfiguration:\n          - ServerSideEncryptionByDefault: {SSEAlgorithm: AES256}\n            BucketKeyEnabled: true\n      PublicAccessBlockConfiguration:\n        BlockPublicAcls: true\n",
			"  InputBucket:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketEncryption:\n        ServerSideEncryptionConfiguration:\n          - ServerSideEncryptionByDefault: {SSEAlgorithm: AES256}\n            BucketKeyEnabled: true\n      PublicAccessBlockConfiguration:\n        BlockPublicAcls: false\n",
			"template.yaml: Resources.InputBucket.Properties.PublicAccessBlockConfiguration: BlockPublicAcls is not true"},
		{"dashboard metric sluice does not emit", `MetricName=\"RecordsRejected\"`, `MetricName=\"RecordsQuarantined\"`,
			"template.yaml: Resources.Dashboard.Properties.DashboardBody.widgets[1]: metric sluice/RecordsQuarantined is not one the functions emit (RecordsIn, RecordsOut, RecordsRejected, RecordsFiltered, BytesIn, BytesOut, DurationMs, RunFailed)"},
		{"dashboard SEARCH on dimensions sluice does not emit", `{sluice,Stack,Pipeline} Stack=\"${AWS::StackName}\" MetricName=\"RecordsOut\"`, `{sluice,Pipeline,Stack} Stack=\"${AWS::StackName}\" MetricName=\"RecordsOut\"`,
			"template.yaml: Resources.Dashboard.Properties.DashboardBody.widgets[0]: SEARCH on dimensions [Pipeline Stack]: the functions emit RecordsOut with [[Stack Pipeline] [Stack Pipeline Status]]"},
		{"dashboard body not JSON", `"widgets": [`, `"widgets": [[`,
			"template.yaml: Resources.Dashboard.Properties.DashboardBody: is not JSON: invalid character '}' after array element"},
	} {
		mod := strings.Replace(string(tmpl), c.from, c.to, 1)
		if mod == string(tmpl) {
			t.Fatalf("%s: replacement did not apply", c.name)
		}
		var got []string
		for _, p := range lint.Template("template.yaml", []byte(mod), read) {
			got = append(got, p.String())
		}
		found := false
		for _, g := range got {
			found = found || g == c.want
		}
		if !found {
			t.Errorf("%s: problems %q lack %q", c.name, got, c.want)
		}
	}
}
