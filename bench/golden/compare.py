"""Compare two `sluice run` output folders of the same job: the base
revision's and the working tree's (bench/golden.sh).

    python3 bench/golden/compare.py CASE BASE_DIR NEW_DIR PARQUET_PAIRS

Part and reject file names hold the run id (part-<run>-c<chunk>-...), which
derives from the input and the spec's hash, so a revision that hashes the
spec differently names the same files differently: files are matched by
their path relative to the folder with the run id replaced by RUN. Then:

- the two folders must hold the same files (the manifest, _SUCCESS,
  _sources/, and an iceberg sink's catalog and metadata aside: they hold
  ids and times of the run);
- every other file but Parquet must be the same byte for byte (JSON Lines
  and CSV parts, reject records with their positions, _windows.jsonl); the
  first differing line is printed;
- Parquet files are written to the file PARQUET_PAIRS, one line
  "CASE:NAME<TAB>A<TAB>B" each, for bench/duck/job.mjs diff, which compares
  their values and row order;
- the manifests must agree on the counts: records in, out, rejected and
  filtered, rejected_by_rule, filtered_by_reason, chunks, and each part's
  and reject file's name (run id normalised) and records (and bytes, but
  for Parquet, whose encoding may change).

Prints the differences (of the first five files that differ, then how many
more do) and exits 1 if there is any.
"""
import json
import os
import re
import sys

RUN = re.compile(r'part-[0-9a-f]{8,16}-')
ADDED = re.compile(r'^_(profile|report)\.(json|html)$')
SKIP = re.compile(r'^(_manifest\.json|_SUCCESS|_sources/.*|_catalog\.db.*|warehouse/.*/metadata/.*)$')
SHOW = 5  # files whose differences are printed, per case
COUNTS = ('status', 'records_in', 'records_out', 'records_rejected', 'records_filtered',
          'rejected_by_rule', 'filtered_by_reason', 'chunks')


def normal(rel):
    return RUN.sub('part-RUN-', rel)


def files(root):
    """Map of normalised relative path to the file's path."""
    out = {}
    for d, _, names in os.walk(root):
        for n in names:
            rel = os.path.relpath(os.path.join(d, n), root)
            if not SKIP.match(rel):
                out[normal(rel)] = os.path.join(d, n)
    return out


def first_difference(a, b):
    """The 1-based number of the first line that differs, and both lines."""
    with open(a, 'rb') as fa, open(b, 'rb') as fb:
        n = 0
        while True:
            la, lb = fa.readline(), fb.readline()
            n += 1
            if la != lb:
                return n, la, lb
            if not la:
                return None


def show(line):
    if not line:
        return '(end of file)'
    s = line.decode('utf-8', 'replace').rstrip('\n')
    return s if len(s) <= 300 else s[:300] + '...'


def compare_bytes(case, rel, a, b):
    diff = first_difference(a, b)
    if diff is None:
        return []
    n, la, lb = diff
    return [f'{case}: {rel}: first difference at line {n}\n  base: {show(la)}\n  now:  {show(lb)}']


def manifest_view(root):
    m = json.load(open(os.path.join(root, '_manifest.json')))
    view = {k: m.get(k) for k in COUNTS}
    for kind in ('parts', 'rejects'):
        view[kind] = [{'key': normal(p['key']), 'partition': p.get('partition'), 'records': p['records'],
                       'bytes': None if p['key'].endswith('.parquet') else p.get('bytes')}
                      for p in (m.get(kind) or [])]
    return view


def compare_manifests(case, base, new):
    mb, mn = manifest_view(base), manifest_view(new)
    out = []
    for k in mb:
        if mb[k] != mn[k]:
            out.append(f'{case}: _manifest.json {k}: base {json.dumps(mb[k])[:500]}, now {json.dumps(mn[k])[:500]}')
    return out


def main(case, base, new, pairs_path):
    fb, fn = files(base), files(new)
    out = [f'{case}: {rel} only in the base output' for rel in sorted(fb.keys() - fn.keys())]
    only_new = sorted(fn.keys() - fb.keys())
    # A build that writes the column profile and the run report beside the
    # manifest, against one from before them: those files are new, not a
    # difference in what the run wrote.
    added = [rel for rel in only_new if ADDED.match(rel)]
    if added:
        print(f'note: {case}: {", ".join(added)} written by the new build only (files the base build does not write; not compared)')
    out += [f'{case}: {rel} only in the new output' for rel in only_new if not ADDED.match(rel)]
    with open(pairs_path, 'w') as pairs:
        for rel in sorted(fb.keys() & fn.keys()):
            if rel.endswith('.parquet'):
                pairs.write(f'{case}:{rel}\t{fb[rel]}\t{fn[rel]}\n')
            else:
                out += compare_bytes(case, rel, fb[rel], fn[rel])
    if len(out) > SHOW:
        out = out[:SHOW] + [f'{case}: ... and {len(out) - SHOW} more files differ']
    out += compare_manifests(case, base, new)
    for line in out:
        print(line)
    return 1 if out else 0


if __name__ == '__main__':
    sys.exit(main(*sys.argv[1:]))
