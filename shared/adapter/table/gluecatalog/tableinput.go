package gluecatalog

import (
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/record"
	"github.com/sluice-etl/sluice/shared/core/spec"
)

// TableType is the type of every table sluice registers.
const TableType = "EXTERNAL_TABLE"

// The Hadoop formats and SerDes of the tables.
const (
	TextInputFormat     = "org.apache.hadoop.mapred.TextInputFormat"
	TextOutputFormat    = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
	ParquetInputFormat  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
	ParquetOutputFormat = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
	JSONSerDe           = "org.openx.data.jsonserde.JsonSerDe"
	CSVSerDe            = "org.apache.hadoop.hive.serde2.OpenCSVSerde"
	ParquetSerDe        = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
)

// ownedParameters are the table parameters TableInput sets: an update
// replaces them and keeps any other parameter the table has (partition
// projection, comments, ...).
var ownedParameters = []string{"EXTERNAL", "classification", "compressionType", "skip.header.line.count"}

// HiveType is the Hive type of an output field: string, bigint, double,
// decimal(18,scale), boolean, timestamp or date, as the Parquet and JSON
// files hold them.
func HiveType(f record.Field) (string, error) {
	switch f.Kind {
	case record.String:
		return "string", nil
	case record.Int:
		return "bigint", nil
	case record.Float:
		return "double", nil
	case record.Decimal:
		return fmt.Sprintf("decimal(18,%d)", f.Scale), nil
	case record.Bool:
		return "boolean", nil
	case record.Timestamp:
		return "timestamp", nil
	case record.Date:
		return "date", nil
	}
	return "", fmt.Errorf("field %q: no Hive type for %s", f.Name, f.Kind)
}

// TableInput is the Glue table of a spec's jsonl, csv or parquet output
// at location (s3://bucket/prefix/):
//   - columns: the output fields in order, named in lower case (Glue's
//     names), with their HiveType; for csv every column is a string, its
//     HiveType in the column's comment, since Athena's OpenCSVSerde
//     reads only strings from sluice's CSV text (ISO timestamps and
//     dates, decimals, and nulls as empty fields);
//   - partition keys: partition_by's keys, strings;
//   - storage: jsonl is text read by the OpenX JSON SerDe; csv is text
//     read by OpenCSVSerde with the sink's delimiter, '"' quoting and the
//     header line skipped; parquet is read by ParquetHiveSerDe. A gzip
//     or zstd jsonl or csv file is read by its .gz or .zst suffix.
func TableInput(sp *spec.Spec, out *record.Schema, location string) (*types.TableInput, error) {
	format := sp.Sink.Format.OrDefault()
	cols, err := columns(out, format == codec.SinkCSV)
	if err != nil {
		return nil, err
	}
	sd, params, err := storage(sp)
	if err != nil {
		return nil, err
	}
	sd.Columns, sd.Location = cols, aws.String(location)
	var keys []types.Column
	for _, p := range sp.Sink.PartitionBy {
		keys = append(keys, types.Column{Name: aws.String(p.Key), Type: aws.String("string")})
	}
	return &types.TableInput{
		Name:              aws.String(sp.Sink.Table.Name),
		TableType:         aws.String(TableType),
		Parameters:        params,
		PartitionKeys:     keys,
		StorageDescriptor: sd,
	}, nil
}

// columns are the Glue columns of the output schema; asText declares
// each a string, with its Hive type as its comment.
func columns(out *record.Schema, asText bool) ([]types.Column, error) {
	cols := make([]types.Column, 0, len(out.Fields))
	seen := map[string]string{}
	for _, f := range out.Fields {
		typ, err := HiveType(f)
		if err != nil {
			return nil, err
		}
		name := strings.ToLower(f.Name)
		if prev, dup := seen[name]; dup {
			return nil, fmt.Errorf("fields %q and %q are one Glue column, %q", prev, f.Name, name)
		}
		seen[name] = f.Name
		col := types.Column{Name: aws.String(name), Type: aws.String(typ)}
		if asText {
			col.Type, col.Comment = aws.String("string"), aws.String(typ)
		}
		cols = append(cols, col)
	}
	return cols, nil
}

// storage is the storage descriptor (without columns and location) and
// the table parameters that read the sink's files.
func storage(sp *spec.Spec) (*types.StorageDescriptor, map[string]string, error) {
	k := sp.Sink
	params := map[string]string{"EXTERNAL": "TRUE"}
	sd := &types.StorageDescriptor{InputFormat: aws.String(TextInputFormat), OutputFormat: aws.String(TextOutputFormat)}
	switch k.Format.OrDefault() {
	case codec.SinkParquet:
		params["classification"] = "parquet"
		sd.InputFormat, sd.OutputFormat = aws.String(ParquetInputFormat), aws.String(ParquetOutputFormat)
		sd.SerdeInfo = serde(ParquetSerDe, map[string]string{"serialization.format": "1"})
		return sd, params, nil
	case codec.SinkCSV:
		delim, err := spec.CharOption(k.CSV.Delimiter)
		if err != nil {
			return nil, nil, fmt.Errorf("sink.csv.delimiter: %w", err)
		}
		if delim == 0 {
			delim = ','
		}
		params["classification"], params["skip.header.line.count"] = "csv", "1"
		sd.SerdeInfo = serde(CSVSerDe, map[string]string{"separatorChar": string(delim), "quoteChar": `"`, "escapeChar": `\`})
	default:
		params["classification"] = "json"
		sd.SerdeInfo = serde(JSONSerDe, map[string]string{"case.insensitive": "TRUE"})
	}
	params["compressionType"] = "none"
	if c := k.Compression; c == codec.Gzip || c == codec.Zstd {
		params["compressionType"], sd.Compressed = string(c), true
	}
	return sd, params, nil
}

func serde(lib string, params map[string]string) *types.SerDeInfo {
	return &types.SerDeInfo{SerializationLibrary: aws.String(lib), Parameters: params}
}
