"""The asset bundle as code, without a running Superset: it renders for both engines, its
assets link by UUID, its SQL is portable, its roles follow the contracts, and an export
writes back into it cleanly."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import sqlglot
import yaml

from lakehouse.access import load_policy
from lakehouse.settings import Settings
from lakehouse.superset.access import access_spec, bundle_datasets, role_spec
from lakehouse.superset.bundle import PLACEHOLDER, bundle_files, render_bundle, write_back
from lakehouse.superset.env import BUNDLE_DIR, SUPERSET_DIR, VENV, SupersetEnv


def _assets(kind: str) -> dict[str, dict]:
    return {name: yaml.safe_load(text) for name, text in bundle_files().items() if name.startswith(f"{kind}/")}


@pytest.fixture
def env(tmp_path: Path) -> SupersetEnv:
    return SupersetEnv(Settings(superset_home=tmp_path / "superset", lake_root=str(tmp_path / "lake")))


@pytest.fixture(scope="module")
def policy():
    return load_policy()


@pytest.mark.parametrize("engine", ["duckdb", "trino"])
def test_bundle_renders_for_each_engine(engine: str, tmp_path: Path) -> None:
    env = SupersetEnv(Settings(superset_home=tmp_path, superset_database=engine,
                               superset_trino_uri="trino://superset@gateway:8080/lake",
                               superset_base_maps=[["tile://https://tiles.example/{z}/{x}/{y}.png", "Intranet"]]))
    out = render_bundle(env, tmp_path / "rendered")
    files = {str(p.relative_to(out)): p.read_text(encoding="utf-8") for p in out.rglob("*.yaml")}
    assert set(files) == set(bundle_files())
    assert not any(PLACEHOLDER.search(text) for text in files.values())
    database = yaml.safe_load(files["databases/IOC_Lake.yaml"])
    connect_args = database["extra"]["engine_params"]["connect_args"]
    if engine == "duckdb":
        assert database["sqlalchemy_uri"] == f"duckdb:///{env.serving_db}"
        assert connect_args["read_only"] is True
        assert connect_args["preload_extensions"] == ["delta", "spatial"]
        assert Path(connect_args["config"]["extension_directory"]).is_dir()  # wheels, no downloads
    else:
        assert database["sqlalchemy_uri"] == "trino://superset@gateway:8080/lake"
    maps = [yaml.safe_load(t)["params"]["mapbox_style"] for n, t in files.items()
            if n.startswith("charts/") and yaml.safe_load(t)["viz_type"].startswith("deck_")]
    assert maps and set(maps) == {"tile://https://tiles.example/{z}/{x}/{y}.png"}


def test_assets_link_by_uuid() -> None:
    databases = {d["uuid"] for d in _assets("databases").values()}
    datasets = {d["uuid"]: d for d in _assets("datasets").values()}
    charts = {c["uuid"]: c for c in _assets("charts").values()}
    dashboards = _assets("dashboards")
    assert len(dashboards) == 7
    assert {d["database_uuid"] for d in datasets.values()} <= databases
    assert all(c["dataset_uuid"] in datasets for c in charts.values())
    on_dashboards: set[str] = set()
    for name, dashboard in dashboards.items():
        assert dashboard["published"], name
        placed = [v["meta"]["uuid"] for v in dashboard["position"].values()
                  if isinstance(v, dict) and v.get("type") == "CHART"]
        assert placed and set(placed) <= set(charts), name
        on_dashboards |= set(placed)
    layers = {u for c in charts.values() for u in c["params"].get("deck_slice_uuids", [])}
    assert layers <= set(charts)
    assert set(charts) == on_dashboards | layers, "every chart is on a dashboard or is a map layer"


def test_datasets_read_the_lake_through_one_database(policy) -> None:
    for dataset in bundle_datasets():
        for key in dataset.reads:
            tier = key.partition(".")[0]
            assert tier in ("gold", "ops"), f"{dataset.name} reads {key}: only gold/ops are served"
            if tier == "gold":
                assert key in policy.tables, f"{dataset.name} reads {key}, which no contract or model makes"
    physical = {d.name for d in bundle_datasets() if not d.virtual}
    for dataset in bundle_datasets():
        if dataset.virtual:  # Superset narrows a virtual dataset by its tables' physical datasets' RLS
            assert dataset.reads <= physical, f"{dataset.name}: {sorted(dataset.reads - physical)}"


def test_a_chart_s_time_window_is_not_overridden_by_its_time_range() -> None:
    """Superset replaces every TEMPORAL_RANGE filter's value with the chart's ``time_range``
    (``QueryContextFactory._apply_filters``): a window saved next to ``time_range: No filter``
    is silently dropped and the chart reads the whole history. (Its SQL: test_dashboards.)"""
    windowed = 0
    for name, chart in _assets("charts").items():
        windows = [f["comparator"] for f in chart["params"].get("adhoc_filters", [])
                   if f.get("operator") == "TEMPORAL_RANGE"]
        if windows:
            windowed += 1
            assert windows == [chart["params"].get("time_range")], name
        if "last 7 days" in chart["slice_name"]:
            assert windows, f"{name}: says 'last 7 days' but has no time window"
    assert windowed >= 8


def test_virtual_dataset_sql_is_portable_to_trino() -> None:
    virtual = [d for d in _assets("datasets").values() if d.get("sql")]
    assert len(virtual) >= 3
    for dataset in virtual:
        trino = sqlglot.transpile(dataset["sql"], read="duckdb", write="trino")[0]
        sqlglot.parse_one(trino, read="trino")  # parses back
        assert sqlglot.transpile(dataset["sql"], read="trino", write="trino")[0], dataset["table_name"]


def test_roles_and_row_level_security_follow_the_contracts(policy, env: SupersetEnv) -> None:
    datasets = bundle_datasets()
    by_name = {d.name: d for d in datasets}
    ha_long = role_spec(policy, "ha_long", datasets)
    filters = {r["dataset"]: r["clause"] for r in ha_long["rls"]}
    for table in ("gold.tourism_daily", "gold.citizen_requests"):
        grant = policy.access("ha_long", table)
        assert grant is not None and grant.row_filter
        assert by_name[table].uuid in ha_long["datasets"]
        assert filters[by_name[table].uuid] == grant.row_filter
    assert policy.access("ha_long", "gold.incidents") is None
    assert by_name["gold.incidents"].uuid not in ha_long["datasets"]
    assert by_name["ops.quality_results"].uuid not in ha_long["datasets"]

    ioc = role_spec(policy, "ioc", datasets)
    assert set(ioc["datasets"]) == {d.uuid for d in datasets} and ioc["rls"] == []

    spec = access_spec(policy, env)
    users = {u["username"]: u for u in spec["users"]}
    assert "public" not in users and set(users) == set(policy.departments) - {"public"}
    assert len({u["password"] for u in users.values()}) == len(users)
    assert oct(env.users_file.stat().st_mode)[-3:] == "600"
    assert access_spec(policy, env)["users"] == spec["users"], "passwords are generated once"


def test_an_export_writes_back_templated_and_stable(env: SupersetEnv, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(BUNDLE_DIR, bundle)
    rendered = render_bundle(env, tmp_path / "export", bundle)  # what Superset would export, ...
    for path in list((rendered / "charts").glob("*.yaml")):  # ... with its volatile ids
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        data["params"].update(slice_id=4242, datasource="42__table")
        path.unlink()
        (path.parent / f"{path.stem}_4242.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    result = write_back(rendered, env, bundle)
    assert result.written == [] and result.missing == []
    assert result.unchanged == len(bundle_files(bundle)) - 2  # all but metadata and the database

    chart = rendered / "charts" / "Map_layer_cameras_4242.yaml"
    data = yaml.safe_load(chart.read_text(encoding="utf-8"))
    data["slice_name"] = "Cameras (edited in the UI)"
    chart.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    new = dict(data, uuid="00000000-0000-4000-8000-000000000001", slice_name="A new chart")
    (rendered / "charts" / "A_new_chart_77.yaml").write_text(yaml.safe_dump(new, sort_keys=False), encoding="utf-8")
    result = write_back(rendered, env, bundle)
    assert sorted(result.written) == ["charts/A_new_chart.yaml", "charts/Map_layer_cameras.yaml"]
    edited = (bundle / "charts" / "Map_layer_cameras.yaml").read_text(encoding="utf-8")
    assert "Cameras (edited in the UI)" in edited and "mapbox_style: ${BASE_MAP}" in edited
    assert "slice_id" not in edited and "42__table" not in edited


def test_superset_config_takes_redis_and_base_maps_from_the_environment(tmp_path: Path) -> None:
    probe = ("import json, superset_config as c; print(json.dumps([c.CACHE_CONFIG['CACHE_TYPE'], "
             "c.DATA_CACHE_CONFIG['CACHE_REDIS_URL'], c.RATELIMIT_STORAGE_URI, c.DECKGL_BASE_MAP, "
             "c.TALISMAN_CONFIG['content_security_policy']['connect-src'], c.SQLALCHEMY_DATABASE_URI]))")
    env = {**os.environ, "PYTHONPATH": str(SUPERSET_DIR), "SUPERSET_SECRET_KEY": "not-a-secret",
           "IOC_SUPERSET_METADATA_URI": f"sqlite:///{tmp_path / 's.db'}", "IOC_REDIS_URL": "redis://127.0.0.1:6379/7",
           "IOC_SUPERSET_BASE_MAPS": json.dumps([["tile://https://tiles.example/{z}/{x}/{y}.png", "Intranet"]])}
    out = subprocess.run([str(VENV / "bin" / "python"), "-c", probe], env=env, cwd=tmp_path, check=True,
                         capture_output=True, text=True).stdout
    cache, redis, limits, maps, connect, metadata = json.loads(out.strip().splitlines()[-1])
    assert (cache, redis, limits) == ("RedisCache", "redis://127.0.0.1:6379/7", "redis://127.0.0.1:6379/7")
    assert maps == [["tile://https://tiles.example/{z}/{x}/{y}.png", "Intranet"]]
    assert connect == ["'self'", "https://tiles.example"]
    assert metadata.startswith("sqlite:///")
