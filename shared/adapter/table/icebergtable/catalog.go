package icebergtable

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/catalog/glue"
	sqlcat "github.com/apache/iceberg-go/catalog/sql"
	icebergio "github.com/apache/iceberg-go/io"
	_ "github.com/apache/iceberg-go/io/gocloud/s3" // s3:// warehouses
	_ "modernc.org/sqlite"                         // the pure-Go SQLite driver, "sqlite"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/adapter/storage/fileblob"
	"github.com/sluice-etl/sluice/shared/adapter/storage/s3blob"
	"github.com/sluice-etl/sluice/shared/core/layout"
	"github.com/sluice-etl/sluice/shared/core/spec"
)

// Location says which catalog holds the tables, and where their files
// go.
type Location struct {
	// Kind is the catalog: spec.CatalogLocal ("" too) or spec.CatalogGlue.
	Kind spec.CatalogKind
	// Root is the local catalog's folder: _catalog.db and warehouse/.
	Root string
	// Warehouse is the Glue catalog's s3://bucket/prefix: a table's files
	// go under prefix/namespace/name.
	Warehouse string
	// Region and Endpoint reach Glue and S3; empty, the AWS SDK's
	// defaults (AWS_REGION, AWS_ENDPOINT_URL) apply. Endpoint is for a
	// local stack such as moto.
	Region, Endpoint string
}

// Catalog is an open catalog, with the bucket that holds its tables'
// files.
type Catalog struct {
	catalog.Catalog
	kind      spec.CatalogKind
	close     func() error
	files     storage.Bucket
	warehouse string // the warehouse's key prefix in files
	root      string // the local catalog's absolute folder
	bucket    string // the Glue warehouse's bucket
}

// Open opens the catalog loc names. The local one is created if need be;
// on Glue, the tables' namespaces are Glue databases.
func Open(ctx context.Context, loc Location) (*Catalog, error) {
	switch loc.Kind {
	case spec.CatalogLocal, "":
		return OpenCatalog(loc.Root)
	case spec.CatalogGlue:
		return openGlue(ctx, loc)
	}
	return nil, loc.Kind.Check()
}

// OpenCatalog opens (creating if need be) the local catalog under root.
func OpenCatalog(root string) (*Catalog, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("catalog folder %s: %w", root, err)
	}
	if err := os.MkdirAll(filepath.Join(abs, filepath.FromSlash(layout.Warehouse(""))), 0o755); err != nil {
		return nil, fmt.Errorf("catalog folder: %w", err)
	}
	files, err := fileblob.New(abs)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(abs, filepath.FromSlash(layout.CatalogKey("")))
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	if err != nil {
		return nil, fmt.Errorf("open catalog %s: %w", path, err)
	}
	cat, err := sqlcat.NewCatalog(CatalogName, db, sqlcat.SQLite, iceberg.Properties{"warehouse": fileURL(filepath.Join(abs, filepath.FromSlash(layout.Warehouse(""))))})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open catalog %s: %w", path, err)
	}
	return &Catalog{Catalog: cat, kind: spec.CatalogLocal, close: db.Close, files: files, warehouse: layout.Warehouse(""), root: abs}, nil
}

// openGlue opens the Glue catalog through iceberg-go, with its files in
// the s3:// warehouse.
func openGlue(ctx context.Context, loc Location) (*Catalog, error) {
	bucket, prefix, err := spec.ParseWarehouse(loc.Warehouse)
	if err != nil {
		return nil, err
	}
	props := iceberg.Properties{"type": "glue", "warehouse": loc.Warehouse}
	if loc.Region != "" {
		props[glue.Region], props[icebergio.S3Region] = loc.Region, loc.Region
	}
	if loc.Endpoint != "" {
		props[glue.Endpoint], props[icebergio.S3EndpointURL] = loc.Endpoint, loc.Endpoint
	}
	cat, err := catalog.Load(ctx, CatalogName, props)
	if err != nil {
		return nil, fmt.Errorf("open the glue catalog: %w", err)
	}
	client, err := s3blob.NewClient(ctx, loc.Region, loc.Endpoint)
	if err != nil {
		return nil, err
	}
	return &Catalog{Catalog: cat, kind: spec.CatalogGlue, close: func() error { return nil },
		files: s3blob.New(client, bucket), warehouse: prefix, bucket: bucket}, nil
}

// Close closes the catalog.
func (c *Catalog) Close() error { return c.close() }

// Root is the local catalog's folder ("" on Glue).
func (c *Catalog) Root() string { return c.root }

// Files is the bucket holding the tables' files.
func (c *Catalog) Files() storage.Bucket { return c.files }

// TableLocation is a table's folder, as a key in Files.
func (c *Catalog) TableLocation(namespace, name string) string {
	return layout.TableLocation(c.warehouse, namespace, name)
}

// URL is the URL the catalog knows a key of Files by.
func (c *Catalog) URL(key string) string {
	if c.kind == spec.CatalogGlue {
		return "s3://" + c.bucket + "/" + key
	}
	return fileURL(filepath.Join(c.root, filepath.FromSlash(key)))
}

// Key is the key in Files of a file's URL.
func (c *Catalog) Key(fileURLStr string) (string, error) {
	if c.kind == spec.CatalogGlue {
		key, ok := strings.CutPrefix(fileURLStr, "s3://"+c.bucket+"/")
		if !ok || key == "" {
			return "", fmt.Errorf("data file %s is outside s3://%s", fileURLStr, c.bucket)
		}
		return key, nil
	}
	u, err := url.Parse(fileURLStr)
	if err != nil || u.Scheme != "file" {
		return "", fmt.Errorf("data file %s is not a file:// URL", fileURLStr)
	}
	rel, err := filepath.Rel(c.root, filepath.FromSlash(u.Path))
	if err != nil || strings.HasPrefix(rel, "..") {
		return "", fmt.Errorf("data file %s is outside %s", fileURLStr, c.root)
	}
	return filepath.ToSlash(rel), nil
}

// fileURL is the file:// URL of an absolute path.
func fileURL(path string) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(path)}).String()
}
