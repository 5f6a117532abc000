package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/glue"

	"github.com/sluice-etl/sluice/shared/adapter/table/icebergtable"
	"github.com/sluice-etl/sluice/shared/core/spec"
)

// awsFlags reach the glue catalog and its s3:// warehouse, or the Glue
// table and the s3:// output of a sink that registers in Glue: a local
// stack such as moto through --endpoint, or AWS with neither flag.
type awsFlags struct {
	endpoint, region string
}

func (a *awsFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&a.endpoint, "endpoint", os.Getenv("AWS_ENDPOINT_URL"), "AWS endpoint of Glue and S3: the glue catalog and its warehouse, or an s3:// --output (default: AWS_ENDPOINT_URL; empty is AWS)")
	fs.StringVar(&a.region, "region", "", "AWS region of the glue catalog (default: the AWS SDK's, AWS_REGION)")
}

// location is where the catalog kind keeps its tables: root for the local
// catalog, warehouse (s3://bucket/prefix) for glue.
func (a *awsFlags) location(kind spec.CatalogKind, root, warehouse string) icebergtable.Location {
	return icebergtable.Location{Kind: kind, Root: root, Warehouse: warehouse, Region: a.region, Endpoint: a.endpoint}
}

// bucketURL is an s3:// bucket URL that reaches the bucket through the
// flags' endpoint and region; other URLs are returned as they are.
func (a *awsFlags) bucketURL(bucket string) string {
	u, err := url.Parse(bucket)
	if err != nil || u.Scheme != "s3" || (a.endpoint == "" && a.region == "") {
		return bucket
	}
	q := u.Query()
	if a.endpoint != "" {
		q.Set("endpoint", a.endpoint)
	}
	if a.region != "" {
		q.Set("region", a.region)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// glueClient is a Glue client from the AWS SDK's configuration and the
// flags' endpoint and region.
func (a *awsFlags) glueClient(ctx context.Context) (*glue.Client, error) {
	var opts []func(*config.LoadOptions) error
	if a.region != "" {
		opts = append(opts, config.WithRegion(a.region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration for glue: %w", err)
	}
	return glue.NewFromConfig(cfg, func(o *glue.Options) {
		if a.endpoint != "" {
			o.BaseEndpoint = aws.String(a.endpoint)
		}
	}), nil
}
