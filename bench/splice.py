"""Rewrite bench/run.sh's part of BENCHMARKS.md and keep the rest.

    python3 bench/splice.py BENCHMARKS.md SECTION.md NOTES.md

SECTION.md is the file's head (the title and what precedes the first
"## " heading) and run.sh's own "## " sections; NOTES.md is appended to
them. Of the existing file, the head and every section whose heading
SECTION.md or NOTES.md has are replaced; the other sections (written by
bench/stream.sh, bench/iceberg.sh, bench/lambdas.sh) are kept, in order,
after them.
"""
import os
import re
import sys


def sections(text):
    """The head and the list of (heading, body) of text's "## " sections."""
    parts = re.split(r'^(## .*)$', text, flags=re.M)
    head, rest = parts[0], parts[1:]
    return head, [(rest[i], rest[i + 1]) for i in range(0, len(rest), 2)]


def main(md_path, section_path, notes_path):
    new = open(section_path).read().rstrip('\n') + '\n'
    if os.path.exists(notes_path):
        new += '\n' + open(notes_path).read().rstrip('\n') + '\n'
    owned = {h for h, _ in sections(new)[1]}
    old = open(md_path).read() if os.path.exists(md_path) else ''
    kept = [h + body for h, body in sections(old)[1] if h not in owned]
    out = new
    for sec in kept:
        out += '\n' + sec.strip('\n') + '\n'
    with open(md_path, 'w') as f:
        f.write(out)


if __name__ == '__main__':
    main(*sys.argv[1:])
