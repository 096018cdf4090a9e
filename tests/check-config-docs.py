#!/usr/bin/env python3
"""check-config-docs.py: docs/internals.md's configuration tables are the daemons' own -h.

Usage: tests/check-config-docs.py BIN_DIR [--write]

Runs `BIN_DIR/{comet,logic,job} -h` (built from the option tables in comet/config.c,
logic/config.c and job/config.c) and turns each into a Markdown table: flag, default, range, env,
meaning. Without --write, exits 1 when the table between the markers
<!-- config-table:DAEMON --> and <!-- end config-table:DAEMON --> in docs/internals.md differs (run
by `make test`); with --write, rewrites those tables. Standard library only.
"""
import os
import re
import subprocess
import sys

DAEMONS = ["comet", "logic", "job"]
DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "internals.md")
LINE = re.compile(r'^  -(\S+)\s+(.*) \(default "(.*?)"(?:, (\S+\.\.\S+))?(?:, env (\w+))?\)$')


def cell(text):
    return text.replace("|", "\\|")


def table(bin_dir, daemon):
    usage = subprocess.run([os.path.join(bin_dir, daemon), "-h"], capture_output=True, text=True,
                           check=True).stdout
    rows = ["| flag (= JSON path) | default | range | env | meaning |", "|---|---|---|---|---|"]
    for line in usage.splitlines():
        if not line.startswith("  -") or line.startswith(("  -conf ", "  -t ")):
            continue
        match = LINE.match(line)
        if match is None:
            if daemon == "logic" and line.startswith("  " + os.path.join(bin_dir, daemon)):
                continue  # the one-shot commands listed after the settings
            sys.exit(f"check-config-docs: cannot read {daemon} -h line: {line!r}")
        flag, meaning, default, limits, env = match.groups()
        rows.append("| `-%s` | %s | %s | %s | %s |" % (
            flag, "`%s`" % cell(default) if default else "", limits or "", env or "",
            cell(meaning)))
    return "\n".join(rows) + "\n"


def main():
    if len(sys.argv) not in (2, 3) or (len(sys.argv) == 3 and sys.argv[2] != "--write"):
        sys.exit(__doc__.split("\n\n")[1])
    bin_dir, write = sys.argv[1], len(sys.argv) == 3
    with open(DOC, encoding="utf-8") as handle:
        text = handle.read()
    stale = []
    for daemon in DAEMONS:
        begin, end = f"<!-- config-table:{daemon} -->\n", f"<!-- end config-table:{daemon} -->"
        start, stop = text.find(begin), text.find(end)
        if start < 0 or stop < start:
            sys.exit(f"check-config-docs: {DOC} has no {begin.strip()} ... {end} markers")
        wanted = table(bin_dir, daemon)
        if text[start + len(begin):stop] != wanted:
            stale.append(daemon)
            text = text[:start + len(begin)] + wanted + text[stop:]
    if write:
        with open(DOC, "w", encoding="utf-8") as handle:
            handle.write(text)
    elif stale:
        sys.exit("check-config-docs: docs/internals.md's configuration table of %s differs from "
                 "-h; run tests/check-config-docs.py %s --write" % (", ".join(stale), bin_dir))
    print("check-config-docs: ok")


if __name__ == "__main__":
    main()
