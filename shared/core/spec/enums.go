package spec

import "github.com/sluice-etl/sluice/shared/core/enum"

// The spec's enumerated options that belong to no other package. Each is
// a type with its constants, the enum.Set of its values and one Check
// method. The others are declared where they are used: codec.Format,
// codec.Compression and codec.SinkFormat, the schema contract's
// codec.UnknownPolicy and codec.MissingPolicy, window.Kind and
// window.LatePolicy.

// BOMPolicy says what becomes of a leading UTF-8 byte order mark in CSV
// input.
type BOMPolicy string

// BOM policies.
const (
	BOMStrip BOMPolicy = "strip" // the default
	BOMKeep  BOMPolicy = "keep"
)

// BOMPolicies are the BOM policies; "" is strip.
var BOMPolicies = enum.Set[BOMPolicy]{Values: []BOMPolicy{BOMStrip, BOMKeep}, EmptyOK: true}

// Check validates a BOM policy against BOMPolicies.
func (p BOMPolicy) Check() error { return BOMPolicies.Check(p) }

// WindowTime says which time places a record in its windows.
type WindowTime string

// Window time modes.
const (
	WindowEventTime   WindowTime = "event"   // the window's time_field
	WindowArrivalTime WindowTime = "arrival" // the stream's arrival time
)

// WindowTimes are the window time modes.
var WindowTimes = enum.Set[WindowTime]{Values: []WindowTime{WindowEventTime, WindowArrivalTime}}

// Check validates a window time mode against WindowTimes.
func (t WindowTime) Check() error { return WindowTimes.Check(t) }

// FailureMode says which records of a stream batch are returned as failed
// when a shard fails.
type FailureMode string

// Stream failure modes.
const (
	OnFailureReport   FailureMode = "report"
	OnFailureFailFast FailureMode = "fail_fast"
)

// FailureModes are the stream failure modes.
var FailureModes = enum.Set[FailureMode]{Values: []FailureMode{OnFailureReport, OnFailureFailFast}}

// Check validates a stream failure mode against FailureModes.
func (m FailureMode) Check() error { return FailureModes.Check(m) }

// RejectPolicy says what becomes of a batch run's rejected records.
type RejectPolicy string

// Reject policies.
const (
	RejectQuarantine RejectPolicy = "quarantine" // written aside, the run goes on
	RejectFail       RejectPolicy = "fail"       // the run fails
)

// RejectPolicies are the reject policies.
var RejectPolicies = enum.Set[RejectPolicy]{Values: []RejectPolicy{RejectQuarantine, RejectFail}}

// Check validates a reject policy against RejectPolicies.
func (p RejectPolicy) Check() error { return RejectPolicies.Check(p) }

// CatalogKind names the catalog an iceberg sink commits to, or that a
// jsonl, csv or parquet sink registers its output in.
type CatalogKind string

// Catalog kinds.
const (
	// CatalogLocal is a SQLite catalog and a file:// warehouse in the
	// run's output folder (or sink.warehouse): no server, no AWS. The
	// iceberg sink only.
	CatalogLocal CatalogKind = "local"
	// CatalogGlue is the AWS Glue Data Catalog: for the iceberg sink,
	// with the tables' files in an s3:// warehouse (sink.warehouse,
	// required); for a jsonl, csv or parquet sink, a Hive-style table
	// over the output and its partitions.
	CatalogGlue CatalogKind = "glue"
)

// CatalogKinds are the catalog kinds; "" is local for the iceberg sink
// and no catalog for the others.
var CatalogKinds = enum.Set[CatalogKind]{Name: "catalog", Values: []CatalogKind{CatalogLocal, CatalogGlue}, EmptyOK: true}

// Check validates a catalog kind against CatalogKinds.
func (k CatalogKind) Check() error { return CatalogKinds.Check(k) }

// PartitionTransform is how an iceberg sink's partition field is derived
// from its source field.
type PartitionTransform string

// Partition transforms.
const (
	TransformIdentity PartitionTransform = "identity" // the value itself
	TransformHour     PartitionTransform = "hour"     // timestamps
	TransformDay      PartitionTransform = "day"      // timestamps and dates
	TransformMonth    PartitionTransform = "month"    // timestamps and dates
)

// PartitionTransforms are the partition transforms; "" is day for
// timestamps and identity for other fields.
var PartitionTransforms = enum.Set[PartitionTransform]{Name: "transform",
	Values: []PartitionTransform{TransformIdentity, TransformHour, TransformDay, TransformMonth}, EmptyOK: true}

// Check validates a partition transform against PartitionTransforms.
func (t PartitionTransform) Check() error { return PartitionTransforms.Check(t) }

// Layout is the Go time layout that gives one folder per value of the
// transform (identity: one per day of a date).
func (t PartitionTransform) Layout() string {
	switch t {
	case TransformHour:
		return "2006-01-02-15"
	case TransformMonth:
		return "2006-01"
	}
	return "2006-01-02"
}
