package handler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
	jsonv2 "github.com/go-json-experiment/json"
)

// ErrUnknownEvent is returned for a payload of no supported shape.
var ErrUnknownEvent = errors.New("unsupported event: want an S3 notification, an EventBridge Object Created event, {bucket, key}, a Kinesis batch or {flush_tables}")

// payloadKind is the shape of a payload the extract function accepts.
type payloadKind int

const (
	payloadS3Test      payloadKind = iota + 1 // S3's test notification
	payloadS3                                 // an S3 notification
	payloadEventBridge                        // an EventBridge Object Created event
	payloadObject                             // a task input {bucket, key}
	payloadTask                               // the state machine's TaskInput
	payloadKinesis                            // a Kinesis batch, in a tumbling window or not
	payloadFlush                              // the schedule's {flush_tables}
)

// kindOf tells a payload's shape by the fields it has.
func kindOf(raw []byte) (payloadKind, error) {
	if isKinesis(raw) {
		return payloadKinesis, nil
	}
	var task TaskInput
	if json.Unmarshal(raw, &task) == nil && len(task.Event) > 0 && task.Execution != "" {
		return payloadTask, nil
	}
	var probe struct {
		Records    []json.RawMessage `json:"Records"`
		Event      string            `json:"Event"`
		DetailType string            `json:"detail-type"`
		Bucket     string            `json:"bucket"`
		Key        string            `json:"key"`
		Flush      *FlushTables      `json:"flush_tables"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return 0, fmt.Errorf("extract: decode event: %w", err)
	}
	switch {
	case probe.Flush != nil:
		return payloadFlush, nil
	case probe.Event == "s3:TestEvent":
		return payloadS3Test, nil
	case probe.Records != nil:
		return payloadS3, nil
	case probe.DetailType != "":
		return payloadEventBridge, nil
	case probe.Bucket != "" && probe.Key != "":
		return payloadObject, nil
	}
	return 0, ErrUnknownEvent
}

// Invoke is the extract function's lambda.Handler: it hands the raw
// payload to the typed entry point for its shape and encodes the answer.
// Taking the raw payload spares the runtime's own decoding pass over a
// Kinesis batch.
func (e *Extractor) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	kind, err := kindOf(payload)
	if err != nil {
		return nil, err
	}
	switch kind {
	case payloadS3Test:
		return json.Marshal(Started{Started: []string{}, Duplicates: []string{}, Ignored: 1})
	case payloadS3:
		return serve(ctx, payload, "S3 event", e.HandleS3Event)
	case payloadEventBridge:
		return serve(ctx, payload, "EventBridge event", e.HandleEventBridge)
	case payloadObject:
		return serve(ctx, payload, "task input", e.Plan)
	case payloadTask:
		return serve(ctx, payload, "task input", e.HandleTask)
	case payloadFlush:
		return serve(ctx, payload, "flush", e.HandleFlush)
	}
	return e.invokeKinesis(ctx, payload)
}

// serve decodes a payload as T, handles it and encodes the answer.
func serve[T, R any](ctx context.Context, payload []byte, what string, handle func(context.Context, T) (R, error)) ([]byte, error) {
	var in T
	if err := json.Unmarshal(payload, &in); err != nil {
		return nil, fmt.Errorf("extract: decode %s: %w", what, err)
	}
	out, err := handle(ctx, in)
	if err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

// invokeKinesis decodes a Kinesis batch with the v2 decoder, which reads
// the base64 record data several times faster than encoding/json (Lambda's
// keys match the tags exactly), and applies it.
func (e *Extractor) invokeKinesis(ctx context.Context, payload []byte) ([]byte, error) {
	var ev events.KinesisTimeWindowEvent
	if err := jsonv2.Unmarshal(payload, &ev); err != nil {
		return nil, fmt.Errorf("extract: decode Kinesis event: %w", err)
	}
	var res *StreamResult
	var err error
	if inWindow(&ev) {
		res, err = e.HandleKinesisWindow(ctx, ev)
	} else {
		res, err = e.HandleKinesis(ctx, ev.KinesisEvent)
	}
	if err != nil {
		return nil, err
	}
	return json.Marshal(res)
}
