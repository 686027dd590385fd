"""Great Expectations suites generated from the contracts, one JSON file per dataset.

``quality/suites/<dataset>.json`` is what the gate runs, written out so a reviewer sees every
expectation a contract change adds or removes (in GX's suite format: name, expectations with
type, kwargs and meta). Reference value sets stay symbolic (``{"$references": …}``): they are
looked up when the suite runs. A test fails when the committed files differ.
"""

from __future__ import annotations

from pathlib import Path

from lakehouse.contracts import Catalog
from lakehouse.quality.expectations import SUITES_DIR, render


def outputs(catalog: Catalog) -> dict[Path, str]:
    return {SUITES_DIR / f"{c.name}.json": render(c) for c in sorted(catalog, key=lambda c: c.name)}


def owned_dir() -> Path:
    """Files here that :func:`outputs` no longer produces are stale and removed."""
    return SUITES_DIR
