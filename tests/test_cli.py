"""The ``ioc`` command line over a small real lake."""

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from lakehouse.cli import app
from lakehouse.lake import Tier, append, table_uri

runner = CliRunner(env={"COLUMNS": "250"})


@pytest.fixture
def small_lake(lake_settings):
    uri = table_uri(Tier.gold, "visits", lake_settings)
    for i in range(3):
        append(uri, pa.table({"site": [f"Bãi Cháy {i}"], "n": [i]}), batch_id=f"b{i}")
    return lake_settings


def test_sql_returns_rows(small_lake):
    result = runner.invoke(app, ["sql", "select site, n from gold.visits order by n desc"])
    assert result.exit_code == 0, result.output
    assert result.output.index("Bãi Cháy 2") < result.output.index("Bãi Cháy 0")


def test_sql_error_is_clear(small_lake):
    result = runner.invoke(app, ["sql", "select * from gold.nope"])
    assert result.exit_code == 1
    assert "nope" in result.output


def test_lake_tables_and_history(small_lake):
    tables = runner.invoke(app, ["lake", "tables"])
    assert tables.exit_code == 0 and "gold.visits" in tables.output
    history = runner.invoke(app, ["lake", "history", "gold.visits"])
    assert history.exit_code == 0
    assert all(f"b{i}" in history.output for i in range(3))
