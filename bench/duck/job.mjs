// DuckDB's side of the reference-job benchmark (bench/run.sh) and its
// Parquet reader for the checks and the golden comparison (bench/golden.sh).
//
//   node job.mjs run --input F --from csv|jsonl --to jsonl|csv|parquet --output F --threads N
//       the job of bench/spec.yaml: every column read as text, user_id
//       renamed customer_id, order_id and customer_id cast to BIGINT,
//       email lower-cased, rows whose email lacks @ or whose amount is not
//       a number dropped, amount_cents = round(amount * 100) as BIGINT;
//       written with COPY ... TO (Parquet: zstd).
//   node job.mjs count --format jsonl|csv|parquet --sum COLUMN FILE...
//       prints "ROWS SUM" of the files (SUM 0 when every value is null).
//   node job.mjs diff < PAIRS
//       PAIRS: lines "NAME<TAB>A<TAB>B" naming two Parquet files each (A:
//       the base's). Compares each pair by column name: the same columns
//       and types (parquet_schema), the same number of rows, the same rows
//       (EXCEPT ALL both ways) and the same row at each position
//       (file_row_number). All pairs are compared in a few queries. Prints
//       the differences of the first five pairs that differ, by NAME, and
//       how many more do; exits 1 if any.
//   node job.mjs version
//       prints DuckDB's version (and measures start-up).
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { DuckDBInstance } from '@duckdb/node-api'

const quote = (s) => "'" + String(s).replaceAll("'", "''") + "'"
const ident = (c) => '"' + c.replaceAll('"', '""') + '"'
const list = (files) => '[' + files.map(quote).join(', ') + ']'
const inputColumns = ['order_id', 'user_id', 'email', 'amount', 'currency', 'status', 'country', 'created_at', 'product']

async function connect(threads) {
  const opts = threads ? { threads: String(threads) } : {}
  const db = await DuckDBInstance.create(':memory:', opts)
  return db.connect()
}

function reader(format, files) {
  switch (format) {
    case 'csv':
      return `read_csv(${list(files)}, header = true, all_varchar = true)`
    case 'jsonl': {
      const cols = inputColumns.map((c) => `${c}: 'VARCHAR'`).join(', ')
      return `read_json(${list(files)}, format = 'newline_delimited', columns = {${cols}})`
    }
    default:
      throw new Error(`unknown input format ${format} (csv or jsonl)`)
  }
}

const copyOptions = {
  jsonl: 'FORMAT json',
  csv: 'FORMAT csv, HEADER true',
  parquet: 'FORMAT parquet, COMPRESSION zstd',
}

// jobQuery is bench/spec.yaml in SQL.
function jobQuery(source) {
  return `SELECT CAST(order_id AS BIGINT) AS order_id, CAST(user_id AS BIGINT) AS customer_id,
      lower(email) AS email, TRY_CAST(amount AS DOUBLE) AS amount, currency, status, country,
      created_at, product, CAST(round(TRY_CAST(amount AS DOUBLE) * 100) AS BIGINT) AS amount_cents
    FROM ${source}
    WHERE contains(email, '@') AND TRY_CAST(amount AS DOUBLE) IS NOT NULL`
}

async function run(args) {
  const { values: v } = parseArgs({
    args,
    options: {
      input: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' },
      output: { type: 'string' }, threads: { type: 'string', default: '1' },
    },
  })
  const opts = copyOptions[v.to]
  if (!v.input || !v.output || !opts) throw new Error('run: --input, --output and --to jsonl|csv|parquet are required')
  const conn = await connect(v.threads)
  await conn.run(`COPY (${jobQuery(reader(v.from, [v.input]))}) TO ${quote(v.output)} (${opts})`)
}

async function count(args) {
  const { values: v, positionals: files } = parseArgs({
    args, allowPositionals: true,
    options: { format: { type: 'string' }, sum: { type: 'string', default: 'amount_cents' } },
  })
  if (files.length === 0) throw new Error('count: no files')
  let source
  switch (v.format) {
    case 'parquet': source = `read_parquet(${list(files)}, hive_partitioning = false)`; break
    case 'csv': source = `read_csv(${list(files)}, header = true, hive_partitioning = false)`; break
    case 'jsonl': source = `read_json(${list(files)}, format = 'newline_delimited', hive_partitioning = false)`; break
    default: throw new Error(`count: unknown format ${v.format}`)
  }
  const conn = await connect()
  const r = await conn.runAndReadAll(`SELECT count(*)::VARCHAR AS n, coalesce(sum(${ident(v.sum)}), 0)::VARCHAR AS s FROM ${source}`)
  const [row] = r.getRowObjects()
  process.stdout.write(`${row.n} ${row.s}\n`)
}

async function rows(conn, sql) {
  const r = await conn.runAndReadAll(sql)
  return r.getRowObjects()
}

// The Parquet schema of each file of a pair, as "name: type" lines in the
// file's column order (the root, whose name is the schema's, included).
async function schemas(conn, pairs) {
  const files = [...new Set(pairs.flatMap(([, a, b]) => [a, b]))]
  const all = await rows(conn, `SELECT file_name, name, type, converted_type, logical_type, scale, precision, repetition_type
    FROM parquet_schema(${list(files)})`)
  const by = new Map()
  for (const c of all) {
    const t = [c.type, c.converted_type, c.logical_type, c.scale, c.precision, c.repetition_type].filter((x) => x !== null).join(' ')
    if (!by.has(c.file_name)) by.set(c.file_name, [])
    by.get(c.file_name).push(`${c.name}: ${t}`)
  }
  return by
}

// schemaDiffs returns, per pair name, how the two files' columns differ
// (by name; a change of order alone is noted on stderr).
function schemaDiffs(pairs, by) {
  const out = [], moved = []
  for (const [name, a, b] of pairs) {
    const sa = by.get(a) ?? [], sb = by.get(b) ?? []
    const setB = new Set(sb)
    const gone = sa.filter((c) => !setB.has(c)), added = sb.filter((c) => !new Set(sa).has(c))
    if (gone.length || added.length) out.push(`${name}: columns differ: base has ${gone.join(', ') || 'nothing else'}; now ${added.join(', ') || 'nothing else'}`)
    else if (sa.join() !== sb.join()) moved.push(name)
  }
  if (moved.length) process.stderr.write(`note: the column order changed in ${moved.length} of ${pairs.length} files (compared by name), ${moved[0]} the first\n`)
  return out
}

// load reads one side's files into table t, each row with its pair's name
// (_name) and its position in its file (file_row_number).
async function load(conn, t, side, files) {
  await conn.run(`CREATE TEMP TABLE ${t} AS SELECT p.name AS _name, x.* EXCLUDE (filename)
    FROM read_parquet(${list(files)}, filename = true, file_row_number = true,
      hive_partitioning = false, union_by_name = true) x JOIN pairs p ON x.filename = p.${side}`)
}

// valueDiffs compares the rows of every pair at once: counts, values
// (EXCEPT ALL both ways) and the first position whose row differs.
async function valueDiffs(conn) {
  const cols = (await rows(conn, 'DESCRIBE ta')).map((c) => c.column_name).filter((c) => c !== '_name' && c !== 'file_row_number')
  const sel = ['_name', ...cols].map(ident).join(', ')
  const out = []
  const counts = await rows(conn, `SELECT coalesce(x._name, y._name) AS name, x.n::VARCHAR AS a, y.n::VARCHAR AS b
    FROM (SELECT _name, count(*) n FROM ta GROUP BY ALL) x FULL JOIN (SELECT _name, count(*) n FROM tb GROUP BY ALL) y
    ON x._name = y._name WHERE x.n IS DISTINCT FROM y.n ORDER BY name`)
  for (const c of counts) out.push(`${c.name}: rows: ${c.a ?? 0} in the base, ${c.b ?? 0} now`)
  const only = await rows(conn, `SELECT coalesce(x._name, y._name) AS name, coalesce(x.n, 0)::VARCHAR AS a, coalesce(y.n, 0)::VARCHAR AS b
    FROM (SELECT _name, count(*) n FROM (SELECT ${sel} FROM ta EXCEPT ALL SELECT ${sel} FROM tb) GROUP BY ALL) x
    FULL JOIN (SELECT _name, count(*) n FROM (SELECT ${sel} FROM tb EXCEPT ALL SELECT ${sel} FROM ta) GROUP BY ALL) y
    ON x._name = y._name ORDER BY name`)
  for (const o of only) out.push(`${o.name}: values: ${o.a} rows only in the base, ${o.b} only in the new output`)
  const differs = cols.map((c) => `(x.${ident(c)} IS DISTINCT FROM y.${ident(c)})`).join(' OR ')
  const which = cols.map((c) => `CASE WHEN x.${ident(c)} IS DISTINCT FROM y.${ident(c)} THEN ${quote(c)} END`).join(', ')
  const first = await rows(conn, `SELECT name, min(pos)::VARCHAR AS pos, arg_min(cols, pos) AS cols FROM (
      SELECT coalesce(x._name, y._name) AS name, coalesce(x.file_row_number, y.file_row_number) AS pos,
        CASE WHEN y._name IS NULL THEN 'only in the base' WHEN x._name IS NULL THEN 'only in the new output'
          ELSE 'in ' || concat_ws(', ', ${which}) END AS cols
      FROM ta x FULL JOIN tb y ON x._name = y._name AND x.file_row_number = y.file_row_number
      WHERE x._name IS NULL OR y._name IS NULL OR ${differs}) GROUP BY name ORDER BY name`)
  for (const f of first) out.push(`${f.name}: order: the first row that differs is row ${f.pos} (from 0), ${f.cols}`)
  return out
}

async function diff() {
  const pairs = readFileSync(0, 'utf8').split('\n').filter((l) => l.trim()).map((l) => l.split('\t'))
  if (pairs.length === 0) return
  const conn = await connect()
  const values = pairs.map(([n, a, b]) => `(${quote(n)}, ${quote(a)}, ${quote(b)})`).join(', ')
  await conn.run(`CREATE TEMP TABLE pairs AS SELECT * FROM (VALUES ${values}) v(name, a, b)`)
  let out = schemaDiffs(pairs, await schemas(conn, pairs))
  if (out.length === 0) {
    await load(conn, 'ta', 'a', [...new Set(pairs.map((p) => p[1]))])
    await load(conn, 'tb', 'b', [...new Set(pairs.map((p) => p[2]))])
    out = await valueDiffs(conn)
  }
  const nameOf = (l) => l.slice(0, l.indexOf(': '))
  const bad = [...new Set(out.map(nameOf))].sort()
  const shown = new Set(bad.slice(0, 5))
  for (const line of out.filter((l) => shown.has(nameOf(l))).sort((x, y) => nameOf(x).localeCompare(nameOf(y)))) {
    process.stdout.write(`${line}\n`)
  }
  if (bad.length > shown.size) process.stdout.write(`... and ${bad.length - shown.size} more files differ\n`)
  process.stdout.write(`parquet: ${pairs.length - bad.length} of ${pairs.length} files hold the same values in the same order\n`)
  process.exitCode = bad.length ? 1 : 0
}

async function version() {
  const conn = await connect()
  const [v] = await rows(conn, 'SELECT version() AS v')
  process.stdout.write(`${v.v}\n`)
}

const commands = { run, count, diff, version }
const [cmd, ...rest] = process.argv.slice(2)
if (!commands[cmd]) {
  process.stderr.write('usage: node job.mjs run|count|diff|version ...\n')
  process.exit(2)
}
try {
  await commands[cmd](rest)
} catch (err) {
  process.stderr.write(`job.mjs ${cmd}: ${err.message}\n`)
  process.exit(1)
}
