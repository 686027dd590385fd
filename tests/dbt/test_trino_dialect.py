"""The dbt project is portable: compiled for the production Trino target (no server needed:
``--no-populate-cache``), every model's SQL parses as Trino SQL and calls only functions
Trino has."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlglot
from sqlglot import expressions as exp

from lakehouse.pipeline.gold import run_dbt

pytestmark = pytest.mark.slow

#: Functions sqlglot does not model but Trino has (checked against Trino's function list).
TRINO_EXTRA_FUNCTIONS = {"date_add", "date_diff", "from_iso8601_timestamp", "at_timezone", "day_of_week",
                         "to_hex", "sha256", "greatest", "least", "approx_percentile", "date_trunc",
                         "with_timezone", "current_timezone", "to_milliseconds"}


@pytest.mark.parametrize("incremental", [False, True], ids=["full", "incremental-branch"])
def test_every_model_compiles_for_trino_and_parses_as_trino_sql(lake_settings, monkeypatch, incremental):
    monkeypatch.setenv("IOC_DBT_TARGET", "trino")
    # No server to ask whether a model's table exists: both branches are compiled by assumption.
    run_dbt(["compile", "--no-populate-cache", "--vars", f"{{assume_incremental: {str(incremental).lower()}}}"],
            lake_settings)
    compiled = Path(lake_settings.warehouse_path.parent / "dbt_target" / "compiled")
    models = sorted(p for p in compiled.rglob("*.sql") if "/models/" in p.as_posix() and "/tests/" not in p.as_posix()
                    and not p.parent.name.endswith(".yml"))
    assert len(models) >= 2
    unknown: dict[str, set[str]] = {}
    for path in models:
        sql = path.read_text(encoding="utf-8")
        tree = sqlglot.parse_one(sql, read="trino", error_level=sqlglot.ErrorLevel.RAISE)
        names = {f.name.lower() for f in tree.find_all(exp.Anonymous)} - TRINO_EXTRA_FUNCTIONS
        if names:
            unknown[path.name] = names
    assert not unknown, f"functions Trino may not have (DuckDB-only?): {unknown}"
    water_levels = next(p for p in models if p.name == "water_levels.sql").read_text(encoding="utf-8")
    assert ("max(ingested_at)" in water_levels) is incremental
