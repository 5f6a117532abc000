package invoker_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/sluice-etl/sluice/shared/handler/invoker"
)

// fakeLambda answers Invoke with a fixed output; a fault no local server
// gives on demand.
type fakeLambda struct {
	out  *lambda.InvokeOutput
	got  *lambda.InvokeInput
	fail error
}

func (f *fakeLambda) Invoke(_ context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	f.got = in
	return f.out, f.fail
}

func TestLambdaInvokerReturnsTheFunctionsError(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payload string
		want    string
	}{
		{"handler error", `{"errorMessage":"prepare sluice.orders: table sluice.orders has column amount as double, the spec decimal(18, 2)","errorType":"errorString"}`,
			"commit-fn: prepare sluice.orders: table sluice.orders has column amount as double, the spec decimal(18, 2)"},
		{"crash", `not json`, "commit-fn: not json"},
	} {
		f := &fakeLambda{out: &lambda.InvokeOutput{FunctionError: aws.String("Unhandled"), Payload: []byte(tc.payload)}}
		_, err := invoker.LambdaInvoker{API: f, Function: "commit-fn"}.InvokeLake(context.Background(), []byte(`{"op":"prepare"}`))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
		if aws.ToString(f.got.FunctionName) != "commit-fn" || string(f.got.Payload) != `{"op":"prepare"}` {
			t.Errorf("%s: invoked %s with %s", tc.name, aws.ToString(f.got.FunctionName), f.got.Payload)
		}
	}
	f := &fakeLambda{out: &lambda.InvokeOutput{Payload: []byte(`{"table":"sluice.orders","done":true}`)}}
	out, err := invoker.LambdaInvoker{API: f, Function: "c"}.InvokeLake(context.Background(), nil)
	if err != nil || string(out) != `{"table":"sluice.orders","done":true}` {
		t.Errorf("answer %s, %v", out, err)
	}
}
