"""The Spark jobs' gold tables exist (empty, with their fixed columns) before dbt reads them,
and the dbt sources that describe them name only columns they have."""

from __future__ import annotations

import pyarrow as pa
import yaml

from lakehouse.lake import delta
from lakehouse.lake.duck import lake_connection
from lakehouse.lake.paths import Tier, table_uri
from lakehouse.pipeline.platform_tables import ensure_platform_tables, platform_tables
from lakehouse.settings import REPO_ROOT


def test_missing_tables_are_created_empty_once_and_existing_ones_are_left_alone(lake_settings):
    tables = platform_tables()
    first = tables[0]
    uri = table_uri(Tier.gold, first.name, lake_settings)
    row = {f.name: None for f in first.schema}
    delta.append(uri, pa.Table.from_pylist([row], schema=first.schema), batch_id="written-by-the-job")

    created = ensure_platform_tables(lake_settings)
    assert set(created) == {t.name for t in tables} - {first.name}
    assert ensure_platform_tables(lake_settings) == []
    assert delta.read(uri).num_rows == 1  # the job's row is still there
    con = lake_connection(lake_settings)
    for table in tables[1:]:
        read = delta.read(table_uri(Tier.gold, table.name, lake_settings))
        assert read.num_rows == 0 and read.schema.names == table.schema.names, table.name
        described = con.execute(f"describe gold.{table.name}").fetchall()
        assert [d[0] for d in described] == table.schema.names


def test_dbt_sources_describe_exactly_the_platform_tables():
    declared = {}
    for path in (REPO_ROOT / "dbt_project" / "models" / "staging").glob("_*__sources.yml"):
        for source in yaml.safe_load(path.read_text(encoding="utf-8"))["sources"]:
            for table in source.get("tables", []):
                declared[(source["name"], table["name"])] = [c["name"] for c in table.get("columns", [])]
    for table in platform_tables():
        columns = declared.pop((table.source, table.name))
        unknown = set(columns) - set(table.schema.names)
        assert not unknown, f"{table.source}.{table.name} describes columns it does not have: {unknown}"
    assert not {key for key in declared if key[0] in {"ml", "video"}}, "a source table no job writes"


def test_the_video_dag_names_the_tables_the_job_writes():
    from lakehouse.video import INDEX_TABLES
    from lakehouse.video.tables import SCHEMAS

    assert INDEX_TABLES == tuple(SCHEMAS)
