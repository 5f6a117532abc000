package gluecatalog_test

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/sluice-etl/sluice/shared/adapter/table/gluecatalog"
	"github.com/sluice-etl/sluice/shared/core/plan"
)

func ExampleTableInput() {
	p, err := plan.FromBytes("spec.yaml", []byte(`
fields:
  - {name: order_id, type: int}
  - {name: amount, type: decimal, scale: 2}
  - {name: created_at, type: timestamp}
sink:
  format: parquet
  catalog: glue
  table: {namespace: sales, name: orders}
  partition_by: [{key: dt, field: created_at}]
`))
	if err != nil {
		panic(err)
	}
	in, err := gluecatalog.TableInput(p.Spec, &p.Out, "s3://lake/tables/orders/")
	if err != nil {
		panic(err)
	}
	for _, c := range in.StorageDescriptor.Columns {
		fmt.Println(aws.ToString(c.Name), aws.ToString(c.Type))
	}
	for _, c := range in.PartitionKeys {
		fmt.Println(aws.ToString(c.Name), aws.ToString(c.Type), "(partition key)")
	}
	fmt.Println(aws.ToString(in.StorageDescriptor.SerdeInfo.SerializationLibrary))
	// Output:
	// order_id bigint
	// amount decimal(18,2)
	// created_at timestamp
	// dt string (partition key)
	// org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe
}
