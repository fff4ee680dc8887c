"""The `opensips-py` command line (placeholder until the front end lands)."""
from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    print("opensips-py: under construction", file=sys.stderr)
    return 2
