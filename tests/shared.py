"""Where the shared test material lives (the corpus, the references, the design guide's config).

It sits next to the checkout as `../shared` on the development and CI machines; $OPENSIPS_PY_SHARED overrides.
Tests use it as it is and never edit it. If it cannot be found the tests fail loudly (no silent skip).
"""
from __future__ import annotations

import os
from pathlib import Path

_REPO = Path(__file__).resolve().parents[1]


def _find() -> Path:
    candidates = [os.environ.get("OPENSIPS_PY_SHARED"), _REPO.parent / "shared", "/work/shared"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "corpus" / "official").is_dir() and \
                (Path(candidate) / "reference").is_dir():
            return Path(candidate)
    raise RuntimeError("the shared test material (corpus, references) was not found: set OPENSIPS_PY_SHARED "
                       f"(looked at {', '.join(str(c) for c in candidates if c)})")


SHARED = _find()
CORPUS = SHARED / "corpus"
OFFICIAL = CORPUS / "official"
REFERENCE = SHARED / "reference"
GUIDE_CFG = SHARED / "seed" / "guide-opensips.cfg"
REPO = _REPO
