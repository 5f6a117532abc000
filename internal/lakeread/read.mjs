// An independent reader for sluice's Iceberg tables: icebird (not
// iceberg-go) reads a table's current snapshot and prints what the Go
// tests compare with sluice's own counts.
//
//   node read.mjs TABLE_URL METADATA_FILE SUM_COLUMN KEY_COLUMN [KEY_PREFIX [NULL_COLUMN]]
//
// (with KEY_PREFIX, only the rows whose key starts with it count)
// prints {"count": N, "sum": "S", "keys": ["k1", ...]} (sum and keys as
// strings: longs come back as BigInt); with NULL_COLUMN, also "nulls":
// the counted rows where that column is null, or absent from the row's
// data file (a column added after the file was written). A sum column
// whose values are not all integers (double, decimal) is summed as a JS
// number.
//
// Two shims stand between icebird and a local table:
//   - Node's fetch cannot open file:// URLs, so a global fetch serves them
//     from disk, with the Range and HEAD requests hyparquet makes; with
//     SLUICE_S3_ENDPOINT set it serves s3:// tables from that endpoint
//     (moto) the same way;
//   - icebird's Avro decoder cannot read the deflate-compressed manifests
//     iceberg-go writes, so .avro files are re-encoded uncompressed
//     (codec null) on the way.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { inflateRawSync } from 'node:zlib'
import { icebergMetadata, icebergRead } from 'icebird'

// readLong reads an Avro zig-zag varint at r.pos.
function readLong(buf, r) {
  let n = 0n, shift = 0n, b
  do {
    b = buf[r.pos++]
    n |= BigInt(b & 0x7f) << shift
    shift += 7n
  } while (b & 0x80)
  return (n >> 1n) ^ -(n & 1n)
}

function writeLong(out, v) {
  let n = (BigInt(v) << 1n) ^ (BigInt(v) >> 63n)
  n = BigInt.asUintN(64, n)
  do {
    let b = Number(n & 0x7fn)
    n >>= 7n
    if (n) b |= 0x80
    out.push(b)
  } while (n)
}

function readBytes(buf, r) {
  const len = Number(readLong(buf, r))
  const b = buf.subarray(r.pos, r.pos + len)
  r.pos += len
  return b
}

function writeBytes(out, b) {
  writeLong(out, b.length)
  for (const x of b) out.push(x)
}

// uncompressAvro rewrites an Avro object container file with codec null.
function uncompressAvro(buf) {
  const r = { pos: 4 }
  const meta = []
  for (;;) {
    let count = readLong(buf, r)
    if (count === 0n) break
    if (count < 0n) { count = -count; readLong(buf, r) }
    for (let i = 0n; i < count; i++) {
      const k = Buffer.from(readBytes(buf, r)).toString()
      meta.push([k, Buffer.from(readBytes(buf, r))])
    }
  }
  const sync = buf.subarray(r.pos, r.pos + 16)
  r.pos += 16
  const codec = meta.find(([k]) => k === 'avro.codec')?.[1].toString() ?? 'null'
  if (codec === 'null') return buf
  if (codec !== 'deflate') throw new Error(`avro codec ${codec} not supported by the shim`)
  const out = [...buf.subarray(0, 4)]
  writeLong(out, meta.length)
  for (const [k, v] of meta) {
    writeBytes(out, Buffer.from(k))
    writeBytes(out, k === 'avro.codec' ? Buffer.from('null') : v)
  }
  writeLong(out, 0)
  out.push(...sync)
  while (r.pos < buf.length) {
    const n = readLong(buf, r)
    const block = inflateRawSync(readBytes(buf, r))
    r.pos += 16
    writeLong(out, n)
    writeBytes(out, block)
    out.push(...sync)
  }
  return Buffer.from(out)
}

// serve answers a request for body as a file server would: HEAD, Range.
function serve(body, init) {
  if (init.method === 'HEAD') {
    return new Response(null, { status: 200, headers: { 'content-length': String(body.length) } })
  }
  const range = new Headers(init.headers).get('range')
  const m = range && /bytes=(\d+)-(\d*)/.exec(range)
  if (m) {
    const start = Number(m[1])
    const end = m[2] ? Number(m[2]) + 1 : body.length
    return new Response(body.subarray(start, end), { status: 206, headers: { 'content-length': String(end - start) } })
  }
  return new Response(body, { status: 200, headers: { 'content-length': String(body.length) } })
}

// With SLUICE_S3_ENDPOINT set (a local S3 such as moto), icebird's S3
// URLs (https://BUCKET.s3.amazonaws.com/KEY) are read from that endpoint,
// path-style, with an Authorization header: moto refuses anonymous GETs.
const s3Endpoint = process.env.SLUICE_S3_ENDPOINT
const s3URL = /^https:\/\/([^./]+)\.s3\.amazonaws\.com\/(.*)$/

async function fetchS3(bucket, key) {
  const res = await realFetch(`${s3Endpoint}/${bucket}/${key}`, {
    headers: { authorization: 'AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0' },
  })
  if (res.status === 404) return null
  if (!res.ok) throw new Error(`GET s3://${bucket}/${key}: ${res.status}`)
  return Buffer.from(await res.arrayBuffer())
}

const realFetch = globalThis.fetch
globalThis.fetch = async (url, init = {}) => {
  const u = String(url)
  let body
  const s3 = s3Endpoint && s3URL.exec(u)
  if (s3) {
    body = await fetchS3(s3[1], decodeURIComponent(s3[2]))
  } else if (u.startsWith('file://')) {
    try {
      body = readFileSync(fileURLToPath(u))
    } catch {
      body = null
    }
  } else {
    return realFetch(url, init)
  }
  if (body === null) return new Response(null, { status: 404, statusText: 'Not Found' })
  if (u.endsWith('.avro')) body = uncompressAvro(body)
  return serve(body, init)
}

const [tableUrl, metadataFileName, sumColumn, keyColumn, keyPrefix = '', nullColumn = ''] = process.argv.slice(2)
const metadata = await icebergMetadata({ tableUrl, metadataFileName })
const rows = metadata['current-snapshot-id'] === undefined || metadata['current-snapshot-id'] === -1
  ? []
  : await icebergRead({ tableUrl, metadata }).catch(err => {
    if (/No data manifest files/.test(err.message)) return []
    throw err
  })
let sum = 0n
let fsum = 0
let fractional = false
const keys = new Set()
let count = 0
let nulls = 0
for (const row of rows) {
  if (!String(row[keyColumn]).startsWith(keyPrefix)) continue
  count++
  const v = row[sumColumn]
  if (typeof v === 'number' && !Number.isInteger(v)) fractional = true
  if (v !== null && v !== undefined) {
    fsum += Number(v)
    if (!fractional) sum += BigInt(v)
  }
  if (nullColumn && (row[nullColumn] === null || row[nullColumn] === undefined)) nulls++
  keys.add(String(row[keyColumn]))
}
const out = { count, sum: fractional ? String(fsum) : String(sum), keys: [...keys].sort() }
if (nullColumn) out.nulls = nulls
process.stdout.write(JSON.stringify(out) + '\n')
