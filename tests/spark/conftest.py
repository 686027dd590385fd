"""Spark bridge fixtures (the shared ``spark`` session lives in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from lakehouse.lake.paths import Tier, table_uri
from lakehouse.settings import Settings


@pytest.fixture
def lake_table(lake_settings: Settings) -> Callable[[str], str]:
    """``lake_table("name")`` → the URI of ``silver.name`` in this test's own lake."""

    def _uri(name: str, tier: Tier = Tier.silver) -> str:
        return table_uri(tier, name, lake_settings)

    return _uri

