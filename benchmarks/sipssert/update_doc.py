"""Put a run's result table (`opensips-py sipssert … --markdown FILE`) into docs/sipssert.md, between its
`<!-- sipssert results: begin -->` and `<!-- sipssert results: end -->` markers, with the date of the run.
The table is never edited by hand: `make sipssert-doc` runs the suite and calls this.

    python benchmarks/sipssert/update_doc.py build/sipssert/results.md docs/sipssert.md [COMMIT]

COMMIT is the commit the run tested (make passes the one checked out when it started); default HEAD.
"""
from __future__ import annotations

import datetime
import subprocess
import sys
from pathlib import Path

BEGIN = "<!-- sipssert results: begin -->"
END = "<!-- sipssert results: end -->"


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    table, doc = Path(argv[0]), Path(argv[1])
    tested = argv[2] if len(argv) == 3 else commit()
    text = doc.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        print(f"{doc}: the markers {BEGIN} / {END} are missing", file=sys.stderr)
        return 1
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    stamp = f"Run of {datetime.date.today().isoformat()} at commit {tested} (`make sipssert-doc`):\n\n"
    doc.write_text(head + BEGIN + "\n" + stamp + table.read_text(encoding="utf-8") + END + tail, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
