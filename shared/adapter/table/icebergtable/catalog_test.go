package icebergtable_test

import (
	"context"
	"errors"
	"testing"

	"github.com/sluice-etl/sluice/shared/adapter/table/icebergtable"
	"github.com/sluice-etl/sluice/shared/core/spec"
)

func TestOpenRefusesAnUnknownCatalogOrABadWarehouse(t *testing.T) {
	ctx := context.Background()
	if _, err := icebergtable.Open(ctx, icebergtable.Location{Kind: "hive"}); err == nil {
		t.Error("Open of catalog hive succeeded")
	}
	_, err := icebergtable.Open(ctx, icebergtable.Location{Kind: spec.CatalogGlue, Warehouse: "/tmp/lake"})
	if !errors.Is(err, spec.ErrWarehouse) {
		t.Errorf("Open of glue on a folder: %v, want ErrWarehouse", err)
	}
}

// A Glue catalog names its files s3://bucket/key; Key inverts URL and
// refuses files of another bucket.
func TestGlueCatalogFileNames(t *testing.T) {
	c, err := icebergtable.Open(context.Background(), icebergtable.Location{Kind: spec.CatalogGlue, Warehouse: "s3://lake/tables", Region: "us-east-1", Endpoint: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	loc := c.TableLocation("sales", "orders")
	if loc != "tables/sales/orders" || c.URL(loc) != "s3://lake/tables/sales/orders" {
		t.Errorf("location %q, URL %q", loc, c.URL(loc))
	}
	if key, err := c.Key("s3://lake/tables/sales/orders/data/p=1/part-x.parquet"); err != nil || key != "tables/sales/orders/data/p=1/part-x.parquet" {
		t.Errorf("Key = %q %v", key, err)
	}
	if _, err := c.Key("s3://other/tables/x.parquet"); err == nil {
		t.Error("Key of another bucket's file succeeded")
	}
}
