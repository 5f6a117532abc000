package main

import (
	"flag"
	"os"

	"github.com/sluice-etl/sluice/shared/adapter/table/icebergtable"
	"github.com/sluice-etl/sluice/shared/core/spec"
)

// awsFlags reach the glue catalog and its s3:// warehouse: a local stack
// such as moto through --endpoint, or AWS with neither flag.
type awsFlags struct {
	endpoint, region string
}

func (a *awsFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&a.endpoint, "endpoint", os.Getenv("AWS_ENDPOINT_URL"), "AWS endpoint of the glue catalog and its S3 warehouse (default: AWS_ENDPOINT_URL; empty is AWS)")
	fs.StringVar(&a.region, "region", "", "AWS region of the glue catalog (default: the AWS SDK's, AWS_REGION)")
}

// location is where the catalog kind keeps its tables: root for the local
// catalog, warehouse (s3://bucket/prefix) for glue.
func (a *awsFlags) location(kind spec.CatalogKind, root, warehouse string) icebergtable.Location {
	return icebergtable.Location{Kind: kind, Root: root, Warehouse: warehouse, Region: a.region, Endpoint: a.endpoint}
}
