package offline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sluice-etl/sluice/internal/samtemplate"
)

// glue does what EventBridge does for the stack: the input bucket's
// ObjectCreated notifications (under each rule's prefix) go to a queue,
// and each message becomes an execution whose input is the EventBridge
// "Object Created" event AWS would deliver.
type glue struct {
	t      *samtemplate.Template
	sqs    *sqs.Client
	sfn    *sfn.Client
	routes []route
	queue  *string // the queue's URL
	chaos  *chaos
	log    *slog.Logger
}

// route is a state machine started by objects created under a prefix.
type route struct{ arn, bucket, prefix string }

// startGlue subscribes the queue to the buckets' notifications and
// starts turning its messages into executions.
func (s *Stack) startGlue(ctx context.Context, s3c *s3.Client, sqsc *sqs.Client, sfnc *sfn.Client) error {
	g := &glue{t: s.Template, sqs: sqsc, sfn: sfnc, routes: routes(s.Template), chaos: s.chaos, log: s.log}
	if err := g.subscribe(ctx, s3c); err != nil {
		return err
	}
	s.background.Go(func() { g.run(ctx) })
	return nil
}

// routes are the state machines an S3 event starts.
func routes(t *samtemplate.Template) []route {
	var out []route
	for _, sm := range t.Resources("AWS::Serverless::StateMachine") {
		bucketID, prefix, ok := t.EventPrefix(sm)
		if !ok {
			continue
		}
		arn, _ := t.Arn(sm.ID)
		out = append(out, route{arn: arn, bucket: t.PhysicalName(bucketID), prefix: prefix})
	}
	return out
}

// subscribe creates the queue and points each routed bucket's
// ObjectCreated notifications under the route's prefix at it.
func (g *glue) subscribe(ctx context.Context, s3c *s3.Client) error {
	q, err := g.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(S3EventQueue)})
	if err != nil {
		return fmt.Errorf("glue queue: %w", err)
	}
	g.queue = q.QueueUrl
	qarn := fmt.Sprintf("arn:aws:sqs:%s:%s:%s", samtemplate.Region, g.t.Account, S3EventQueue)
	for _, r := range g.routes {
		_, err := s3c.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{
			Bucket: aws.String(r.bucket),
			NotificationConfiguration: &s3types.NotificationConfiguration{QueueConfigurations: []s3types.QueueConfiguration{{
				QueueArn: aws.String(qarn), Events: []s3types.Event{"s3:ObjectCreated:*"},
				Filter: &s3types.NotificationConfigurationFilter{Key: &s3types.S3KeyFilter{FilterRules: []s3types.FilterRule{{Name: s3types.FilterRuleNamePrefix, Value: aws.String(r.prefix)}}}},
			}}},
		})
		if err != nil {
			return fmt.Errorf("notification on %s: %w", r.bucket, err)
		}
	}
	return nil
}

// run receives the queue's messages until ctx ends; each is handled,
// then deleted.
func (g *glue) run(ctx context.Context) {
	for ctx.Err() == nil {
		out, err := g.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: g.queue, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			if ctx.Err() == nil {
				g.log.Warn("glue receive", "err", err)
				time.Sleep(200 * time.Millisecond)
			}
			continue
		}
		for _, m := range out.Messages {
			g.handle(ctx, m)
			g.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: g.queue, ReceiptHandle: m.ReceiptHandle})
		}
	}
}

// handle starts the routed state machines for each object a
// notification says was created.
func (g *glue) handle(ctx context.Context, m sqstypes.Message) {
	body := aws.ToString(m.Body)
	g.log.Debug("glue message", "bytes", len(body))
	var ev s3Notification
	if err := json.Unmarshal([]byte(body), &ev); err != nil {
		g.log.Warn("glue: not an S3 notification", "err", err)
		return
	}
	for i, rec := range ev.Records {
		key, err := url.QueryUnescape(rec.S3.Object.Key)
		if err != nil || !strings.HasPrefix(rec.EventName, "ObjectCreated") {
			continue
		}
		rec.S3.Object.Key = key
		for _, r := range g.routes {
			if rec.S3.Bucket.Name == r.bucket && strings.HasPrefix(key, r.prefix) {
				g.start(ctx, r, rec, executionName(aws.ToString(m.MessageId), i))
			}
		}
	}
}

// executionName is the same for the same record of the same message, so
// a redelivered message starts nothing new.
func executionName(messageID string, record int) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s/%d", messageID, record))
	return "eb-" + hex.EncodeToString(h[:])[:32]
}

// start starts r's state machine on rec, twice when the chaos plan
// duplicates the S3 event.
func (g *glue) start(ctx context.Context, r route, rec s3Record, name string) {
	input := eventBridgeEvent(g.t.Account, rec)
	names := []string{name}
	if g.chaos.roll(func(p *Chaos) float64 { return p.DuplicateS3 }, FaultDuplicateS3) {
		names = append(names, name[:len(name)-4]+"dup0") // the same event again
	}
	for _, name := range names {
		if _, err := g.sfn.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(r.arn), Name: aws.String(name), Input: aws.String(input)}); err != nil {
			g.log.Warn("glue start execution", "err", err)
		} else {
			g.log.Info("execution started", "name", name, "key", rec.S3.Object.Key)
		}
	}
}

// s3Notification is the part of an S3 event notification the glue reads.
// (moto writes eventTime without a zone, which events.S3Event refuses.)
type s3Notification struct {
	Records []s3Record `json:"Records"`
}

type s3Record struct {
	EventName string `json:"eventName"`
	S3        struct {
		Bucket struct {
			Name string `json:"name"`
		} `json:"bucket"`
		Object struct {
			Key       string `json:"key"`
			Size      int64  `json:"size"`
			ETag      string `json:"eTag"`
			VersionID string `json:"versionId"`
			Sequencer string `json:"sequencer"`
		} `json:"object"`
	} `json:"s3"`
}

// eventBridgeEvent renders an S3 notification record as the EventBridge
// "Object Created" event (keys are not URL-encoded there).
func eventBridgeEvent(account string, r s3Record) string {
	ev := map[string]any{
		"version": "0", "id": newID(), "detail-type": "Object Created", "source": "aws.s3", "account": account,
		"time": time.Now().UTC().Format(time.RFC3339), "region": samtemplate.Region,
		"resources": []string{"arn:aws:s3:::" + r.S3.Bucket.Name},
		"detail": map[string]any{
			"version": "0", "bucket": map[string]string{"name": r.S3.Bucket.Name},
			"object": map[string]any{"key": r.S3.Object.Key, "size": r.S3.Object.Size, "etag": r.S3.Object.ETag,
				"version-id": r.S3.Object.VersionID, "sequencer": r.S3.Object.Sequencer},
			"reason": "PutObject",
		},
	}
	b, _ := json.Marshal(ev)
	return string(b)
}
