// Package stage holds the three pipeline stages — Extract plans chunks of a
// source object, Transform turns one chunk into staged parts and rejects,
// Load commits the staged parts and writes the manifest — plus Run, which
// drives them in-process. The Lambdas call the same functions.
package batch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/core/spec"
	"github.com/sluice-etl/sluice/shared/pipeline/output"
)

// Chunk is a byte range of the source that holds whole records: every
// record that starts in [Start, End).
type Chunk struct {
	Index int   `json:"index"`
	Start int64 `json:"start"`
	End   int64 `json:"end"`
}

// Job is what Extract plans for one source object. It holds pointers and
// offsets only, never data, so it stays small.
type Job struct {
	RunID       string            `json:"run_id"`
	Spec        string            `json:"spec"`
	SpecHash    string            `json:"spec_hash"`
	Source      output.Source     `json:"source"`
	Format      codec.Format      `json:"format"`
	Compression codec.Compression `json:"compression"`
	Header      []string          `json:"header,omitempty"`
	Chunks      []Chunk           `json:"chunks"`
	Limits      codec.Limits      `json:"limits"`
	MaxRecord   int               `json:"max_record_bytes"`
	CSV         *codec.CSVOptions `json:"csv,omitempty"`
	// FieldIDs are the iceberg sink's field ids of the output columns,
	// in order, as the prepared table has them (LakeFieldIDs); without
	// them the data files give each column its position plus one.
	FieldIDs []int `json:"field_ids,omitempty"`
}

// ExtractOptions tune chunk planning.
type ExtractOptions struct {
	// ChunkBytes is the target chunk size (default 64 MiB). Compressed
	// input, JSON documents and specs with dedup are one chunk.
	ChunkBytes int64
	// MaxChunks caps the number of chunks (default 10,000).
	MaxChunks int
}

// ErrInputTooLarge is returned when the source exceeds limits.max_input_bytes.
var ErrInputTooLarge = errors.New("input larger than limits.max_input_bytes")

// Extract inspects the source object, settles its format and compression,
// reads the CSV header, and plans chunks on record boundaries.
func Extract(ctx context.Context, in storage.Bucket, key string, p *plan.Plan, opt ExtractOptions) (*Job, error) {
	sp := p.Spec
	attrs, err := in.Attributes(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("extract: stat %s/%s: %w", in, key, err)
	}
	if max := int64(sp.Limits.MaxInputBytes); max > 0 && attrs.Size > max {
		return nil, fmt.Errorf("extract: %s is %d bytes: %w (%d)", key, attrs.Size, ErrInputTooLarge, max)
	}
	job := &Job{
		Spec:      sp.File(),
		SpecHash:  SpecHash(sp),
		Source:    output.Source{Bucket: in.String(), Key: key, Size: attrs.Size, ETag: attrs.ETag},
		MaxRecord: int(sp.Source.MaxRecordBytes),
		Limits:    limitsOf(sp),
	}
	if job.MaxRecord <= 0 {
		job.MaxRecord = codec.DefaultMaxRecordBytes
	}
	job.RunID = RunID(job.Source, job.SpecHash)

	head, err := readHead(ctx, in, key, 0, 64<<10)
	if err != nil {
		return nil, fmt.Errorf("extract: read %s: %w", key, err)
	}
	job.Compression = sp.Source.Compression
	if job.Compression == "" || job.Compression == codec.CompressionAuto {
		job.Compression = codec.SniffCompression(head)
	}
	job.Format = sp.Source.Format
	if job.Format == "" || job.Format == codec.FormatAuto {
		job.Format = codec.FormatFromName(key)
		if job.Format == "" {
			dhead, err := decompressedHead(ctx, in, key, job)
			if err != nil {
				return nil, fmt.Errorf("extract: sniff %s: %w", key, err)
			}
			job.Format = codec.SniffFormat(dhead)
		}
	}
	if job.Format == codec.FormatCSV {
		o := plan.CSVOptions(sp, job.MaxRecord)
		job.CSV = &o
		if err := readHeader(ctx, in, key, p, job); err != nil {
			return nil, err
		}
	}
	job.Chunks = []Chunk{{Index: 0, Start: 0, End: attrs.Size}}
	splittable := job.Compression == codec.CompressionNone && job.Format != codec.FormatJSON && sp.Dedup == nil
	if splittable {
		if err := planChunks(ctx, in, key, job, opt); err != nil {
			return nil, err
		}
	}
	return job, nil
}

// SpecHash identifies a spec's content: the hash of its canonical JSON,
// the same on every machine and in every process.
func SpecHash(sp *spec.Spec) string {
	data, err := json.Marshal(sp)
	if err != nil {
		data = []byte(err.Error())
	}
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])[:16]
}

// RunID is deterministic in the source object version and the spec, so a
// repeated event for the same object gives the same run and the same keys.
// It uses the bucket's name, not its URL scheme, so the same object gives
// the same run id on S3 and on the in-memory backend.
func RunID(src output.Source, specHash string) string {
	bucket := src.Bucket
	if _, name, ok := strings.Cut(bucket, "://"); ok {
		bucket = name
	}
	h := sha256.Sum256([]byte(bucket + "\x00" + src.Key + "\x00" + src.ETag + "\x00" + fmt.Sprint(src.Size) + "\x00" + specHash))
	return hex.EncodeToString(h[:])[:16]
}

func limitsOf(sp *spec.Spec) codec.Limits {
	l := codec.Limits{MaxBytes: int64(sp.Limits.MaxDecompressedBytes), MaxRatio: sp.Limits.MaxCompressionRatio,
		MaxZstdWindow: int64(sp.Limits.MaxZstdWindow), RequireUTF8: true}
	if l.MaxZstdWindow == 0 {
		l.MaxZstdWindow = spec.DefaultMaxZstdWindow
	}
	if l.MaxBytes == 0 {
		l.MaxBytes = spec.DefaultMaxDecompressedBytes
	}
	if l.MaxRatio == 0 {
		l.MaxRatio = spec.DefaultMaxCompressionRatio
	}
	return l
}

func readHead(ctx context.Context, b storage.Bucket, key string, off, n int64) ([]byte, error) {
	r, err := b.NewRangeReader(ctx, key, off, n)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func decompressedHead(ctx context.Context, in storage.Bucket, key string, job *Job) ([]byte, error) {
	r, err := storage.NewReader(ctx, in, key)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	dr, _, err := codec.Decompress(r, job.Compression, job.Limits)
	if err != nil {
		return nil, err
	}
	defer dr.Close()
	buf := make([]byte, 64<<10)
	n, err := io.ReadFull(dr, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return buf[:n], nil
}

func readHeader(ctx context.Context, in storage.Bucket, key string, p *plan.Plan, job *Job) error {
	if !job.CSV.Header {
		job.Header = job.CSV.Columns
		return nil
	}
	r, err := storage.NewReader(ctx, in, key)
	if err != nil {
		return fmt.Errorf("extract: read %s: %w", key, err)
	}
	defer r.Close()
	dr, _, err := codec.Decompress(r, job.Compression, job.Limits)
	if err != nil {
		return fmt.Errorf("extract: %s: %w", key, err)
	}
	defer dr.Close()
	dec, err := codec.NewCSVDecoder(dr, p.Columns, *job.CSV, codec.Range{}, p.DecodeOptions)
	if err != nil {
		return fmt.Errorf("extract: %s: %w", key, err)
	}
	job.Header = dec.Header()
	return nil
}

// planChunks splits an uncompressed line-oriented object into chunks that
// start just after a line break. A line break inside a quoted CSV field can
// fool this; Transform reports where each chunk really ended and Load (or
// Run, which re-runs the chunk) checks that chunks meet.
func planChunks(ctx context.Context, in storage.Bucket, key string, job *Job, opt ExtractOptions) error {
	size := job.Source.Size
	cb := opt.ChunkBytes
	if cb <= 0 {
		cb = 64 << 20
	}
	maxChunks := opt.MaxChunks
	if maxChunks <= 0 {
		maxChunks = 10_000
	}
	if n := (size + cb - 1) / cb; n > int64(maxChunks) {
		cb = (size + int64(maxChunks) - 1) / int64(maxChunks)
	}
	starts := []int64{0}
	for x := cb; x < size; x += cb {
		if x <= starts[len(starts)-1] {
			continue
		}
		s, err := nextLineStart(ctx, in, key, x, int64(job.MaxRecord))
		if err != nil {
			return fmt.Errorf("extract: plan chunks of %s: %w", key, err)
		}
		if s < 0 || s >= size {
			break
		}
		if s > starts[len(starts)-1] {
			starts = append(starts, s)
		}
	}
	job.Chunks = job.Chunks[:0]
	for i, s := range starts {
		end := size
		if i+1 < len(starts) {
			end = starts[i+1]
		}
		job.Chunks = append(job.Chunks, Chunk{Index: i, Start: s, End: end})
	}
	return nil
}

// nextLineStart returns the offset just after the first line break at or
// after x-1 (so a chunk boundary at a line start stays put), or -1.
func nextLineStart(ctx context.Context, in storage.Bucket, key string, x, maxRecord int64) (int64, error) {
	const window = 64 << 10
	for off := x - 1; off < x+maxRecord+window; off += window {
		b, err := readHead(ctx, in, key, off, window)
		if err != nil {
			return 0, err
		}
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			return off + int64(i) + 1, nil
		}
		if len(b) < window {
			return -1, nil
		}
	}
	return -1, nil
}
