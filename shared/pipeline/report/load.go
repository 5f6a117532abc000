package report

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/core/layout"
	"github.com/sluice-etl/sluice/shared/core/profile"
	"github.com/sluice-etl/sluice/shared/pipeline/output"
)

// Load reads the manifest at manifestKey in b, the profile beside it and,
// with ShowValues, the first rejected records of the run, and builds the
// report. Reject keys in the manifest are keys of b.
func Load(ctx context.Context, b storage.Bucket, manifestKey string, showValues bool) (*Report, error) {
	var m output.Manifest
	data, err := storage.ReadAll(ctx, b, manifestKey)
	if err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", manifestKey, err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", manifestKey, err)
	}
	if m.RunID == "" {
		return nil, fmt.Errorf("read manifest %s: it names no run: not a sluice manifest", manifestKey)
	}
	p, note, err := loadProfile(ctx, b, layout.ProfileKey(dir(manifestKey)), m.RunID)
	if err != nil {
		return nil, err
	}
	opt := Options{ShowValues: showValues}
	var notes []string
	if showValues {
		if opt.Samples, err = sampleRejects(ctx, b, m.Rejects, MaxSamples); err != nil {
			notes = append(notes, err.Error())
		}
	}
	r := Build(&m, p, opt)
	if note != "" {
		r.Notes = append([]string{note}, r.Notes...)
	}
	r.Notes = append(r.Notes, notes...)
	return r, nil
}

// dir is the prefix a key is in ("" at the root).
func dir(key string) string {
	d := path.Dir(key)
	if d == "." {
		return ""
	}
	return d
}

// loadProfile reads the profile at key. A missing profile, or one of
// another run (left by an earlier run of the same folder), is no profile,
// with a note saying why.
func loadProfile(ctx context.Context, b storage.Bucket, key, runID string) (*profile.Profile, string, error) {
	data, err := storage.ReadAll(ctx, b, key)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("read profile %s: %w", key, err)
	}
	var p profile.Profile
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, "", fmt.Errorf("read profile %s: %w", key, err)
	}
	if p.RunID != runID {
		return nil, fmt.Sprintf("%s is the profile of run %s, not of run %s: it is not shown.", key, p.RunID, runID), nil
	}
	return &p, "", nil
}

// sampleRejects reads the first n rejected records of the reject files,
// reading no more of each file than it needs.
func sampleRejects(ctx context.Context, b storage.Bucket, files []output.Part, n int) ([]output.RejectRecord, error) {
	var out []output.RejectRecord
	for _, f := range files {
		if len(out) >= n {
			break
		}
		rr, err := readFirst(ctx, b, f.Key, n-len(out))
		out = append(out, rr...)
		if err != nil {
			return out, fmt.Errorf("sample rejects of %s: %w", f.Key, err)
		}
	}
	return out, nil
}

func readFirst(ctx context.Context, b storage.Bucket, key string, n int) ([]output.RejectRecord, error) {
	r, err := storage.NewReader(ctx, b, key)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4*output.MaxRawInReject+(64<<10))
	var out []output.RejectRecord
	for len(out) < n && sc.Scan() {
		var rr output.RejectRecord
		if err := json.Unmarshal(bytes.TrimSpace(sc.Bytes()), &rr); err != nil {
			return out, fmt.Errorf("line %d: %w", len(out)+1, err)
		}
		out = append(out, rr)
	}
	return out, sc.Err()
}

// Write writes the report's page and its JSON twin to b.
func Write(ctx context.Context, b storage.Bucket, htmlKey, jsonKey string, r *Report) error {
	var page bytes.Buffer
	if err := r.WriteHTML(&page); err != nil {
		return err
	}
	twin, err := r.JSON()
	if err != nil {
		return err
	}
	if err := storage.WriteAll(ctx, b, jsonKey, twin); err != nil {
		return fmt.Errorf("write %s: %w", jsonKey, err)
	}
	if err := storage.WriteAll(ctx, b, htmlKey, page.Bytes()); err != nil {
		return fmt.Errorf("write %s: %w", htmlKey, err)
	}
	return nil
}

// JSON is the report's JSON twin, indented, with a final newline.
func (r *Report) JSON() ([]byte, error) {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode report: %w", err)
	}
	return append(data, '\n'), nil
}
