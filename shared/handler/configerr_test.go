package handler_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	lambdamsg "github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/sluice-etl/sluice/shared/handler"
)

// A configuration error reaches the runtime with ConfigErrorType, which
// the state machine does not retry; other errors keep their own type.
func TestConfigErrorsAreReportedAsSuch(t *testing.T) {
	e := newEnv(t)
	e.s.Specs["broken/"] = "s3://sluice-specs/broken.yaml"
	e.s.Specs["gone/"] = "bundled:no-such-example"
	put(t, e.bucket("sluice-specs"), "broken.yaml", []byte("version: 1\nname: broken\nsource: {format: csv}\nfields:\n  - {name: id, type: integer}\n"))
	put(t, e.bucket("sluice-input-bucket"), "broken/a.csv", []byte("id\n1\n"))
	put(t, e.bucket("sluice-input-bucket"), "gone/a.csv", []byte("id\n1\n"))
	h := handler.NewRuntimeHandler(handler.NewExtractor(e.s, e.deps()))
	for _, c := range []struct {
		key, wantType, wantMsg string
	}{
		{"elsewhere/orders.csv", handler.ConfigErrorType, `no spec is configured for this key: "elsewhere/orders.csv"`},
		{"broken/a.csv", handler.ConfigErrorType, "spec s3://sluice-specs/broken.yaml: "},
		{"gone/a.csv", handler.ConfigErrorType, "no-such-example"},
		{"incoming/orders/../secrets.csv", "", "invalid object key"},
	} {
		payload, _ := json.Marshal(handler.ObjectRef{Bucket: "sluice-input-bucket", Key: c.key})
		_, err := h.Invoke(ctx, payload)
		var ie lambdamsg.InvokeResponse_Error
		isTyped := errors.As(err, &ie)
		msg := ie.Message
		if !isTyped && err != nil {
			msg = err.Error()
		}
		switch {
		case err == nil:
			t.Errorf("key %q: no error", c.key)
		case c.wantType != "" && (!isTyped || ie.Type != c.wantType):
			t.Errorf("key %q: err = %#v, want type %s", c.key, err, c.wantType)
		case c.wantType == "" && (isTyped || handler.IsConfigError(err)):
			t.Errorf("key %q: err = %#v, want an error the state machine retries", c.key, err)
		case !strings.Contains(msg, c.wantMsg):
			t.Errorf("key %q: error %q, want it to say %q", c.key, msg, c.wantMsg)
		}
	}
}
