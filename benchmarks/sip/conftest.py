"""Collect the `bench_*.py` files of this directory (pytest only looks for test_*.py by default)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    if file_path.suffix == ".py" and file_path.name.startswith("bench_"):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


# bench files import `tests.sip.*` (hypothesis strategies): make the repository root importable.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
