// Package layout is the one home of every object key sluice writes or
// reads. Writers and readers build keys only through it, and a golden test
// pins the layout, so renaming a key is one edit here.
//
// The batch path (one run of one source object). <staging> is the staging
// bucket's "runs" root on AWS, or <out>/_staging for sluice run:
//
//	<staging>/<run>/job.json                     the planned job (Extract)
//	<staging>/<run>/chunks.json                  the chunk list of a distributed run
//	<staging>/<run>/results/c<chunk>.json        a chunk's result (Transform)
//	<staging>/<run>/manifest.json                the committed run's manifest (Load)
//	<staging>/<run>/c<chunk>/<partition>/part-<seq><ext>
//	                                             a chunk's staged rows
//	<staging>/<run>/c<chunk>/rejects.jsonl       a chunk's staged rejects
//	<staging>/<run>/c<chunk>/profile.json        a chunk's column profile
//
// The batch path's output. <out> is <OutputPrefix>/<pipeline> on AWS, or the
// --output folder; <rejects> is quarantine/<pipeline> on AWS, or
// <out>/rejects; <manifests> is <out>/_runs/<run> on AWS, or <out>:
//
//	<out>/<partition>/part-<run8>-c<chunk>-<seq><ext>
//	                                             published rows; reruns of the
//	                                             same run id overwrite them
//	<rejects>/part-<run8>-c<chunk>.jsonl         quarantined records
//	<manifests>/_manifest.json                   counts, parts, timings
//	<manifests>/_profile.json                    the output columns' profile (Load)
//	<manifests>/_report.html, _report.json       the run report, when asked for
//	<manifests>/_SUCCESS                         written last, on success only
//	<out>/_windows.jsonl                         a window spec's windows (sluice run)
//	<sources>/<source>.json                      which run's output is live for one
//	                                             source object; a new version's run
//	                                             replaces the keys listed there
//
// <sources> is <OutputPrefix>/_sources/<pipeline> on AWS, outside the
// pipeline's table, or <out>/_sources; <source> is a hash of the source
// object's bucket and key.
//
// The stream path (one shard's batch, named by its first sequence number):
//
//	<staging>/stream/<pipeline>/<shard>/<first>[-<nonce>]/out/<partition>/part-<seq><ext>
//	<staging>/stream/<pipeline>/<shard>/<first>[-<nonce>]/rejects.jsonl
//	<staging>/stream/<pipeline>/<shard>/<first>[-<nonce>]/late.jsonl
//	<out>/<partition>/kinesis-<shard>-<first>-part-<seq><ext>
//	<rejects>/kinesis-<shard>-<first>.jsonl
//	<out>/late/kinesis-<shard>-<first>.jsonl     records too late for their window
//
// Compaction (sluice compact) merges a partition's small files into one
// of about sink.compact.target_bytes, recording each merge first:
//
//	<out>/_compactions/<id>.json                 one merge: its input files, their
//	                                             rows, its output and its state
//	<out>/<partition>/part-compact-<id>-00000<ext>
//	                                             the merged file (plain outputs)
//	<data>/<partition>/part-compact-<id>-00000.parquet
//	                                             the merged data file of an iceberg
//	                                             table, live once its replace commit is
//
// <id> is a hash of the merge's input keys, so a merge run again after a
// crash writes the same file.
//
// A partition folder is key=value per partition_by level, outermost
// first, joined by '/': dt=2026-11-01/country=FR. Values are escaped as
// Hive escapes them (AppendHiveEscaped); a null or empty value is
// HiveNull. ParsePartition reads one back; PartitionOf finds the folder of
// a published part key.
//
// A jsonl, csv or parquet sink registered in Glue (sink.catalog: glue):
// the table's location is <out>/, each partition's <out>/<partition>/.
// sluice run then writes its rejects to <out>/_rejects (TableRejects),
// which Athena skips as it skips every name starting with '_'.
//
// The iceberg sink's local catalog. <root> is the --output folder, or the
// spec's sink.warehouse when it names one:
//
//	<root>/_catalog.db                           the SQLite catalog (iceberg-go's SQL catalog)
//	<root>/warehouse/<namespace>/<table>/metadata/
//	                                             the table's metadata, written by iceberg-go
//	<root>/warehouse/<namespace>/<table>/data/<partition>/part-<run>-c<chunk>-<seq>.parquet
//	                                             data files; part of the table once the run's
//	                                             commit names them
//
// <chunk> and <seq> are five digits, <run> the run id, <run8> its first
// eight characters, and <shard> the shard id with '/' and ':' replaced by '-'.
package layout

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"strings"
)

// The fixed names of the layout.
const (
	// StagingRoot is the staging bucket's prefix for runs on AWS.
	StagingRoot = "runs"
	// LocalStaging is the staging folder inside a sluice run's output.
	LocalStaging = "_staging"
	// Quarantine is the output bucket's prefix for rejects on AWS, kept
	// apart from the tables so a lifecycle rule can expire them.
	Quarantine = "quarantine"
	// RejectsDir is the rejects folder inside a sluice run's output.
	RejectsDir = "rejects"
	// RunsDir holds each run's manifest inside a pipeline's output on AWS.
	RunsDir = "_runs"
	// ManifestName is a run's manifest.
	ManifestName = "_manifest.json"
	// ProfileName is a run's column profile, beside its manifest.
	ProfileName = "_profile.json"
	// ReportName and ReportJSONName are a run's report page and its JSON
	// twin, beside its manifest when a run writes them. The leading '_'
	// keeps them out of a table's readers, as for the manifest.
	ReportName     = "_report.html"
	ReportJSONName = "_report.json"
	// SuccessName marks a successful run; it is written last.
	SuccessName = "_SUCCESS"
	// LateDir holds the stream's records too late for their windows.
	LateDir = "late"
	// WindowsName is the windows file sluice run writes for a window spec.
	WindowsName = "_windows.jsonl"
	// SourcesDir holds the source index: per source object, its live run.
	SourcesDir = "_sources"
	// TableRejectsDir is sluice run's rejects folder inside an output
	// that is a Glue table's location: hidden from the table's readers.
	TableRejectsDir = "_rejects"
	// HiveNull is the partition value Hive writes for a null or empty
	// value.
	HiveNull = "__HIVE_DEFAULT_PARTITION__"

	// CatalogName is the local iceberg catalog's SQLite file.
	CatalogName = "_catalog.db"
	// WarehouseDir holds the local catalog's tables.
	WarehouseDir = "warehouse"
	// TableDataDir and TableMetadataDir are an iceberg table's folders.
	TableDataDir     = "data"
	TableMetadataDir = "metadata"

	partPrefix    = "part-"
	streamPrefix  = "kinesis-"
	stagedRejects = "rejects.jsonl"
	stagedProfile = "profile.json"
	stagedLate    = "late.jsonl"
	jsonl         = ".jsonl"
)

// Join joins key segments with '/', dropping empty segments and the
// slashes around each.
func Join(parts ...string) string {
	var keep []string
	for _, p := range parts {
		if p = strings.Trim(p, "/"); p != "" {
			keep = append(keep, p)
		}
	}
	return path.Join(keep...)
}

// Dir is a key prefix that lists as a folder: prefix + "/", or "" for the
// root.
func Dir(prefix string) string {
	if prefix = strings.Trim(prefix, "/"); prefix == "" {
		return ""
	}
	return prefix + "/"
}

// run8 is the short run id that published names carry.
func run8(runID string) string {
	if len(runID) > 8 {
		return runID[:8]
	}
	return runID
}

// PipelinePrefix is a pipeline's output on AWS: <OutputPrefix>/<pipeline>.
func PipelinePrefix(outputPrefix, pipeline string) string { return Join(outputPrefix, pipeline) }

// CatalogKey is the local iceberg catalog under root.
func CatalogKey(root string) string { return Join(root, CatalogName) }

// Warehouse is the local catalog's warehouse under root.
func Warehouse(root string) string { return Join(root, WarehouseDir) }

// TableLocation is an iceberg table's folder in a warehouse.
func TableLocation(warehouse, namespace, table string) string {
	return Join(warehouse, namespace, table)
}

// TableDataPrefix is where an iceberg table's data files go; part keys
// under it come from PartKey.
func TableDataPrefix(location string) string { return Join(location, TableDataDir) }

// LocalStagingPrefix is sluice run's staging prefix inside its output.
func LocalStagingPrefix(out string) string { return Join(out, LocalStaging) }

// RunPrefix is where everything staged for one run lives.
func RunPrefix(staging, runID string) string { return Join(staging, runID) }

// JobKey is a run's planned job.
func JobKey(staging, runID string) string { return Join(staging, runID, "job.json") }

// ChunksKey is a distributed run's chunk list.
func ChunksKey(staging, runID string) string { return Join(staging, runID, "chunks.json") }

// StagedManifestKey is a committed run's manifest, kept in staging until
// the run is finalized.
func StagedManifestKey(staging, runID string) string { return Join(staging, runID, "manifest.json") }

// ResultKey is where a chunk's result is kept until Load reads it.
func ResultKey(staging, runID string, chunk int) string {
	return Join(staging, runID, "results", fmt.Sprintf("c%05d.json", chunk))
}

// ChunkPrefix is the staging prefix of one chunk of a run.
func ChunkPrefix(staging, runID string, chunk int) string {
	return Join(staging, runID, fmt.Sprintf("c%05d", chunk))
}

// StagedPartKey is the seq-th staged part of a partition under prefix.
func StagedPartKey(prefix, partition string, seq int, ext string) string {
	return Join(prefix, partition, fmt.Sprintf("%s%05d%s", partPrefix, seq, ext))
}

// StagedRejectsKey is the staged rejects of a chunk or stream batch.
func StagedRejectsKey(prefix string) string { return Join(prefix, stagedRejects) }

// StagedProfileKey is the column profile of a chunk's rows.
func StagedProfileKey(prefix string) string { return Join(prefix, stagedProfile) }

// StagedLateKey is the staged late records of a stream batch.
func StagedLateKey(prefix string) string { return Join(prefix, stagedLate) }

// PartKey maps a staged part key to its published key. Published names
// carry the run id and chunk, so reruns overwrite and runs of other objects
// never collide.
func PartKey(out, partition, runID string, chunk int, stagedKey string) string {
	seq := strings.TrimPrefix(path.Base(stagedKey), partPrefix)
	return Join(out, partition, fmt.Sprintf("%s%s-c%05d-%s", partPrefix, run8(runID), chunk, seq))
}

// IsRunPart reports whether key is a part one of runID's runs published.
func IsRunPart(key, runID string) bool {
	return strings.HasPrefix(path.Base(key), partPrefix+run8(runID)+"-")
}

// TablePartKey maps a staged part key to an iceberg table's data file: as
// PartKey, but named by the whole run id, since a table keeps the files of
// every run it committed and two of them must never share a name.
func TablePartKey(data, partition, runID string, chunk int, stagedKey string) string {
	seq := strings.TrimPrefix(path.Base(stagedKey), partPrefix)
	return Join(data, partition, fmt.Sprintf("%s%s-c%05d-%s", partPrefix, runID, chunk, seq))
}

// IsTableRunPart reports whether key is a data file runID wrote.
func IsTableRunPart(key, runID string) bool {
	return strings.HasPrefix(path.Base(key), partPrefix+runID+"-")
}

// IsPart reports whether key names a published or staged batch part.
func IsPart(key string) bool { return strings.HasPrefix(path.Base(key), partPrefix) }

// RejectsKey is the published rejects of one chunk of a run.
func RejectsKey(rejects, runID string, chunk int) string {
	return Join(rejects, fmt.Sprintf("%s%s-c%05d%s", partPrefix, run8(runID), chunk, jsonl))
}

// LocalRejects is sluice run's rejects folder inside its output.
func LocalRejects(out string) string { return Join(out, RejectsDir) }

// TableRejects is sluice run's rejects folder inside an output whose
// folder is a Glue table's location.
func TableRejects(out string) string { return Join(out, TableRejectsDir) }

// QuarantinePrefix is a pipeline's rejects on AWS.
func QuarantinePrefix(pipeline string) string { return Join(Quarantine, pipeline) }

// RunManifestPrefix is where a run's manifest and _SUCCESS go on AWS.
func RunManifestPrefix(out, runID string) string { return Join(out, RunsDir, runID) }

// ManifestKey is the manifest under a manifest prefix.
func ManifestKey(prefix string) string { return Join(prefix, ManifestName) }

// ProfileKey is the column profile under a manifest prefix.
func ProfileKey(prefix string) string { return Join(prefix, ProfileName) }

// ReportKey and ReportJSONKey are the run report and its JSON twin under
// a manifest prefix.
func ReportKey(prefix string) string     { return Join(prefix, ReportName) }
func ReportJSONKey(prefix string) string { return Join(prefix, ReportJSONName) }

// SuccessKey is the success marker under a manifest prefix.
func SuccessKey(prefix string) string { return Join(prefix, SuccessName) }

// LocalSources is sluice run's source index inside its output.
func LocalSources(out string) string { return Join(out, SourcesDir) }

// PipelineSources is a pipeline's source index on AWS, beside its table.
func PipelineSources(outputPrefix, pipeline string) string {
	return Join(outputPrefix, SourcesDir, pipeline)
}

// SourceKey is the source index entry of one source object.
func SourceKey(sources, bucket, key string) string {
	h := sha256.Sum256([]byte(bucket + "\x00" + key))
	return Join(sources, hex.EncodeToString(h[:16])+".json")
}

// WindowsKey is the windows file of a sluice run's output.
func WindowsKey(out string) string { return Join(out, WindowsName) }

// ShardKey is a shard id made safe for a key segment.
func ShardKey(shard string) string {
	return strings.NewReplacer("/", "-", ":", "-").Replace(shard)
}

// StreamBatchPrefix is the staging prefix of one stream batch. The nonce,
// when not empty, keeps concurrent attempts at the same batch apart.
func StreamBatchPrefix(staging, pipeline, shard, first, nonce string) string {
	name := first
	if nonce != "" {
		name += "-" + nonce
	}
	return Join(staging, "stream", pipeline, ShardKey(shard), name)
}

// StreamRowsPrefix is where a stream batch stages its rows.
func StreamRowsPrefix(batchPrefix string) string { return Join(batchPrefix, "out") }

// streamBase names a stream batch's published objects.
func streamBase(shard, first string) string { return streamPrefix + ShardKey(shard) + "-" + first }

// StreamPartKey is the published key of a stream batch's staged part.
func StreamPartKey(out, partition, shard, first, stagedKey string) string {
	return Join(out, partition, streamBase(shard, first)+"-"+path.Base(stagedKey))
}

// StreamRejectsKey is the published rejects of a stream batch.
func StreamRejectsKey(rejects, shard, first string) string {
	return Join(rejects, streamBase(shard, first)+jsonl)
}

// LateKey is the published late records of a stream batch.
func LateKey(out, shard, first string) string {
	return Join(out, LateDir, streamBase(shard, first)+jsonl)
}

// CompactionsDir holds the records of compactions of an output.
const CompactionsDir = "_compactions"

const compactPrefix = partPrefix + "compact-"

// CompactionKey is the record of one compaction of out's files.
func CompactionKey(out, id string) string { return Join(out, CompactionsDir, id+".json") }

// CompactionsPrefix is where out's compaction records are.
func CompactionsPrefix(out string) string { return Dir(Join(out, CompactionsDir)) }

// CompactPartKey is the merged file of a compaction, in its partition.
func CompactPartKey(out, partition, id, ext string) string {
	return Join(out, partition, compactPrefix+id+"-00000"+ext)
}

// IsCompactPart reports whether key is a compaction's merged file.
func IsCompactPart(key string) bool { return strings.HasPrefix(path.Base(key), compactPrefix) }

// IsStreamPart reports whether key is a data file the stream path
// published (not its late records).
func IsStreamPart(key string) bool {
	base := path.Base(key)
	return strings.HasPrefix(base, streamPrefix) && strings.Contains(base, "-"+partPrefix)
}

// IsLate reports whether key, under out, is the stream's late records.
func IsLate(out, key string) bool { return strings.HasPrefix(key, Dir(Join(out, LateDir))) }
