// An independent reader for the files a Glue table registers: DuckDB
// reads them as the table's SerDe says and prints what the Go tests
// compare with sluice's own counts.
//
//   node duck.mjs '{"format": "parquet"|"json"|"csv", "files": [...],
//                   "delimiter": ",", "quote": "\"", "sum": "COLUMN"}'
//
// prints {"count": N, "sum": "S", "columns": [...]} (sum as text: BIGINT
// and DECIMAL sums would lose digits as JS numbers; "" when every value
// is null; columns in the order DuckDB shows them), and for Parquet
// "encodings": {COLUMN: "RLE, PLAIN", ...} from parquet_metadata (the
// first file's first row group). With
// "nulls": "COLUMN" in the request, the files are read by column name,
// a column a file lacks being null (as Athena reads the files of a table
// whose later columns older files lack), and it also prints "nulls": the
// rows where COLUMN is null.
// Compressed JSON and CSV files are read by their .gz or .zst suffix.
// The files' folders are not read as Hive partitions: the tests compare
// the files' own columns.
import { DuckDBInstance } from '@duckdb/node-api'

const req = JSON.parse(process.argv[2])
const quote = (s) => "'" + String(s).replaceAll("'", "''") + "'"
const list = '[' + req.files.map(quote).join(', ') + ']'
const byName = req.nulls ? ', union_by_name = true' : ''

let source
switch (req.format) {
  case 'parquet':
    source = `read_parquet(${list}, hive_partitioning = false${byName})`
    break
  case 'json':
    source = `read_json_auto(${list}, format = 'newline_delimited', hive_partitioning = false${byName})`
    break
  case 'csv':
    source = `read_csv(${list}, header = true, delim = ${quote(req.delimiter)}, quote = ${quote(req.quote)}, escape = ${quote(req.quote)}, hive_partitioning = false${byName})`
    break
  default:
    throw new Error(`unknown format ${req.format}`)
}
const ident = (c) => '"' + c.replaceAll('"', '""') + '"'
const column = ident(req.sum)
const nulls = req.nulls ? `, (count(*) - count(${ident(req.nulls)}))::VARCHAR AS z` : ''

const db = await DuckDBInstance.create(':memory:')
const conn = await db.connect()
const reader = await conn.runAndReadAll(`SELECT count(*)::VARCHAR AS n, sum(${column})::VARCHAR AS s${nulls} FROM ${source}`)
const [row] = reader.getRowObjects()
const desc = await conn.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`)
const out = { count: Number(row.n), sum: row.s ?? '', columns: desc.getRowObjects().map((r) => r.column_name) }
if (req.nulls) out.nulls = Number(row.z)
if (req.format === 'parquet') {
  const meta = await conn.runAndReadAll(
    `SELECT path_in_schema AS c, encodings AS e FROM parquet_metadata(${quote(req.files[0])}) WHERE row_group_id = 0`)
  out.encodings = Object.fromEntries(meta.getRowObjects().map((r) => [r.c, String(r.e)]))
}
process.stdout.write(JSON.stringify(out) + '\n')
