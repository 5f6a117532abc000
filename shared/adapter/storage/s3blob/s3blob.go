// Package s3blob is a storage.Bucket on Amazon S3 (or any S3 API such as
// moto or LocalStack). Reads are streamed ranged GETs; writes stream
// through the SDK's transfer manager, which switches to multipart upload
// for large objects and aborts the upload when the writer is aborted.
package s3blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
)

// API is the part of *s3.Client the bucket uses.
type API interface {
	transfermanager.S3APIClient
	CopyObject(context.Context, *s3.CopyObjectInput, ...func(*s3.Options)) (*s3.CopyObjectOutput, error)
	DeleteObject(context.Context, *s3.DeleteObjectInput, ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

var _ API = (*s3.Client)(nil)

// Options tune a Bucket.
type Options struct {
	// PartSize is the multipart part size (default 8 MiB).
	PartSize int64
	// Concurrency is the number of parts uploaded at once (default 2).
	// Memory held by a writer is about PartSize × (Concurrency + 1).
	Concurrency int
}

// Bucket is one S3 bucket.
type Bucket struct {
	api    API
	tm     *transfermanager.Client
	bucket string
}

var _ storage.Bucket = (*Bucket)(nil)

// New returns a Bucket for name using api.
func New(api API, name string, optFns ...func(*Options)) *Bucket {
	o := Options{PartSize: 8 << 20, Concurrency: 2}
	for _, f := range optFns {
		f(&o)
	}
	tm := transfermanager.New(api, func(t *transfermanager.Options) {
		t.PartSizeBytes = o.PartSize
		t.Concurrency = o.Concurrency
		t.MultipartUploadThreshold = o.PartSize
	})
	return &Bucket{api: api, tm: tm, bucket: name}
}

func init() {
	storage.Register("s3", func(ctx context.Context, u *url.URL) (storage.Bucket, error) {
		client, err := NewClient(ctx, u.Query().Get("region"), u.Query().Get("endpoint"))
		if err != nil {
			return nil, err
		}
		return New(client, u.Host), nil
	})
}

// NewClient loads the default AWS configuration and returns an S3 client.
// It honours AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_S3, and uses path-style
// addressing whenever an endpoint is set, as local S3 servers need.
// It is for mains and URL openers; constructors take a client instead.
func NewClient(ctx context.Context, region, endpoint string) (*s3.Client, error) {
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: load AWS config: %w", err)
	}
	return s3.NewFromConfig(cfg, LocalEndpointOptions, func(o *s3.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
			o.UsePathStyle = true
		}
	}), nil
}

// LocalEndpointOptions turns on path-style addressing when AWS_ENDPOINT_URL
// or AWS_ENDPOINT_URL_S3 points the SDK at a local S3 server.
func LocalEndpointOptions(o *s3.Options) {
	if os.Getenv("AWS_ENDPOINT_URL") != "" || os.Getenv("AWS_ENDPOINT_URL_S3") != "" {
		o.UsePathStyle = true
	}
}

func (b *Bucket) String() string { return "s3://" + b.bucket }

// Name is the bucket name.
func (b *Bucket) Name() string { return b.bucket }

func (b *Bucket) wrap(op, key string, err error) error {
	if isNotFound(err) {
		return fmt.Errorf("%s s3://%s/%s: %w", op, b.bucket, key, storage.ErrNotFound)
	}
	return fmt.Errorf("%s s3://%s/%s: %w", op, b.bucket, key, err)
}

// isNotFound maps the SDK's not-found answers onto one test.
func isNotFound(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NotFound", "NoSuchBucket":
			return true
		}
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == 404
}

// NewRangeReader implements storage.Bucket.
func (b *Bucket) NewRangeReader(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if err := storage.CheckKey(key); err != nil {
		return nil, err
	}
	in := &s3.GetObjectInput{Bucket: &b.bucket, Key: &key}
	switch {
	case length == 0:
		// An empty range is not expressible; read nothing.
		if _, err := b.Attributes(ctx, key); err != nil {
			return nil, err
		}
		return io.NopCloser(strings.NewReader("")), nil
	case length > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", offset, offset+length-1))
	case offset > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", offset))
	}
	out, err := b.api.GetObject(ctx, in)
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "InvalidRange" {
			// A range that starts at or past the end reads nothing.
			return io.NopCloser(strings.NewReader("")), nil
		}
		return nil, b.wrap("get", key, err)
	}
	return out.Body, nil
}

type writer struct {
	pw     *io.PipeWriter
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

func (w *writer) Write(p []byte) (int, error) { return w.pw.Write(p) }

func (w *writer) Close() error {
	w.once.Do(func() {
		w.pw.Close()
		w.err = <-w.done
		w.cancel()
	})
	return w.err
}

func (w *writer) Abort() error {
	w.once.Do(func() {
		w.cancel()
		w.pw.CloseWithError(errAborted)
		<-w.done
	})
	return nil
}

var errAborted = errors.New("write aborted")

// NewWriter implements storage.Bucket. The object appears when Close
// returns without error.
func (b *Bucket) NewWriter(ctx context.Context, key string) (storage.Writer, error) {
	if err := storage.CheckKey(key); err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	uctx, cancel := context.WithCancel(ctx)
	w := &writer{pw: pw, cancel: cancel, done: make(chan error, 1)}
	go func() {
		_, err := b.tm.UploadObject(uctx, &transfermanager.UploadObjectInput{Bucket: &b.bucket, Key: &key, Body: pr})
		if err != nil {
			err = b.wrap("put", key, err)
		}
		pr.CloseWithError(err)
		w.done <- err
	}()
	return w, nil
}

// Attributes implements storage.Bucket.
func (b *Bucket) Attributes(ctx context.Context, key string) (storage.Attributes, error) {
	if err := storage.CheckKey(key); err != nil {
		return storage.Attributes{}, err
	}
	out, err := b.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.bucket, Key: &key})
	if err != nil {
		return storage.Attributes{}, b.wrap("head", key, err)
	}
	a := storage.Attributes{Key: key, Size: aws.ToInt64(out.ContentLength), ETag: strings.Trim(aws.ToString(out.ETag), `"`)}
	if out.LastModified != nil {
		a.ModTime = *out.LastModified
	}
	if v := aws.ToString(out.VersionId); v != "" && v != "null" {
		a.ETag += "@" + v
	}
	return a, nil
}

// List implements storage.Bucket, paging through ListObjectsV2.
func (b *Bucket) List(ctx context.Context, prefix string) ([]storage.Attributes, error) {
	var out []storage.Attributes
	p := s3.NewListObjectsV2Paginator(b.api, &s3.ListObjectsV2Input{Bucket: &b.bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, b.wrap("list", prefix, err)
		}
		for _, o := range page.Contents {
			a := storage.Attributes{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size), ETag: strings.Trim(aws.ToString(o.ETag), `"`)}
			if o.LastModified != nil {
				a.ModTime = *o.LastModified
			}
			out = append(out, a)
		}
	}
	return out, nil
}

// Copy implements storage.Bucket with CopyObject (objects up to 5 GB;
// sluice part files are far smaller).
func (b *Bucket) Copy(ctx context.Context, dst, src string) error {
	if err := storage.CheckKey(dst); err != nil {
		return err
	}
	if err := storage.CheckKey(src); err != nil {
		return err
	}
	source := b.bucket + "/" + url.PathEscape(src)
	source = strings.ReplaceAll(source, "%2F", "/")
	if _, err := b.api.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &b.bucket, Key: &dst, CopySource: &source}); err != nil {
		return b.wrap("copy "+src+" to", dst, err)
	}
	return nil
}

// Delete implements storage.Bucket.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	if err := storage.CheckKey(key); err != nil {
		return err
	}
	if _, err := b.api.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b.bucket, Key: &key}); err != nil && !isNotFound(err) {
		return b.wrap("delete", key, err)
	}
	return nil
}
