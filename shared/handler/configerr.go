package handler

import (
	"context"
	"errors"

	"github.com/aws/aws-lambda-go/lambda"
	lambdamsg "github.com/aws/aws-lambda-go/lambda/messages"
)

// ConfigErrorType is the error type a function reports when the stack's
// configuration, not the data or a dependency, is at fault: no spec for
// the key, or a spec that does not compile. Running again cannot help,
// so the state machine's first retrier gives it no retries and the
// execution fails at once, naming the cause.
const ConfigErrorType = "Sluice.ConfigError"

// ConfigError marks an error as a configuration error.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// configErr marks err as a configuration error (nil stays nil).
func configErr(err error) error {
	if err == nil {
		return nil
	}
	return &ConfigError{Err: err}
}

// IsConfigError reports whether err is, or wraps, a configuration error.
func IsConfigError(err error) bool {
	var ce *ConfigError
	return errors.As(err, &ce) || errors.Is(err, ErrNoSpec)
}

// reportConfigErrors makes the runtime report a configuration error with
// ConfigErrorType; other errors keep the runtime's own reporting.
type reportConfigErrors struct{ lambda.Handler }

func (h reportConfigErrors) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	out, err := h.Handler.Invoke(ctx, payload)
	if err != nil && IsConfigError(err) {
		return out, lambdamsg.InvokeResponse_Error{Type: ConfigErrorType, Message: err.Error()}
	}
	return out, err
}

// NewRuntimeHandler is the handler Main starts: build's result (a
// handler function or a lambda.Handler), reporting configuration errors
// with ConfigErrorType.
func NewRuntimeHandler(h any) lambda.Handler {
	return reportConfigErrors{lambda.NewHandler(h)}
}
