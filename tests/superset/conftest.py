"""A whole province in a lake, and the real Superset serving it, once per session.

The lake is built the way ``make demo`` builds it (generated sources delivered as files,
department databases, APIs and sensor drops; connectors; the GX gate into silver; the real
``gold_dbt``, ``ml_forecast`` and ``video_index`` DAGs; the freshness check), over 7 recent
days, so every dashboard has real rows: forecasts, alerts, camera events with thumbnails,
quality results. Superset is then prepared and served exactly as ``start_superset`` does for
the demo (gunicorn from ``.venv-superset``), on a free port, with its own metadata DB and
throw-away secrets, and stopped at the end.

The lake's environment is set only while it is built; Superset gets an explicit
:class:`Settings`, so nothing leaks into the other tests of the session.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from airflow.dag_processing.dagbag import DagBag
from rich.console import Console

from lakehouse.contracts import load_catalog
from lakehouse.demo import prepare_sources
from lakehouse.generate import generate
from lakehouse.ingest.connectors import run_connector
from lakehouse.orchestration import referenced_first
from lakehouse.pipeline.silver import build_silver
from lakehouse.quality.freshness import record_freshness
from lakehouse.settings import REPO_ROOT, Settings, get_settings, reset_settings_cache

ARTIFACTS = REPO_ROOT / "var" / "test-artifacts" / "superset"  # screenshots, kept after the run
DAYS = 7


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def build_province_lake(root: Path, *, days: int = DAYS, seed: int = 3) -> dict[str, str]:
    """Every source of the province through ingest, silver, gold, forecasts and the video
    index under ``root``; returns the environment that points at it."""
    catalog = load_catalog(REPO_ROOT / "catalog")
    env = {"IOC_LAKE_ROOT": str(root / "lake"), "IOC_LANDING_ROOT": str(root / "landing"),
           "IOC_WAREHOUSE_PATH": str(root / "warehouse" / "ioc.duckdb"), "IOC_GX_ROOT": str(root / "gx"),
           "IOC_PII_SALT": "test-salt-not-a-secret", "IOC_MQTT_URL": "", "IOC_POSTGRES_URL": "",
           "IOC_MYSQL_URL": "", "IOC_MLFLOW_ROOT": str(root / "mlflow"), "IOC_MLFLOW_TRACKING_URI": "",
           "IOC_ALERT_WEBHOOKS": "{}", "IOC_SPARK_DIR": str(root / "spark"), "IOC_SPARK_UI": "false"}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        reset_settings_cache()
        settings = get_settings()
        generate(root / "sources", seed=seed, days=days, start=date.today() - timedelta(days=days))
        simulator, reach = prepare_sources(root / "sources", settings, root, Console(quiet=True))
        try:
            for name, value in reach.items():
                patch.setenv(name, value)
            reset_settings_cache()
            for contract in catalog:
                run_connector(contract)
        finally:
            simulator.stop()
        for contract in referenced_first(catalog):
            build_silver(contract)
        bag = DagBag(str(REPO_ROOT / "dags"))
        for dag_id in ("gold_dbt", "ml_forecast", "video_index"):
            run = bag.dags[dag_id].test()
            assert str(run.state) == "success", dag_id
        record_freshness(catalog, get_settings())
    reset_settings_cache()
    return env


@pytest.fixture(scope="session")
def province_lake(tmp_path_factory, airflow_db) -> dict[str, str]:
    # Development only: IOC_TEST_PROVINCE_LAKE=<root> reuses a lake an earlier session built
    # there (the build is most of this suite's time). CI never sets it.
    reuse = os.environ.get("IOC_TEST_PROVINCE_LAKE")
    if reuse and (Path(reuse) / "lake" / "gold").is_dir():
        return {"IOC_LAKE_ROOT": str(Path(reuse) / "lake"), "IOC_WAREHOUSE_PATH": str(Path(reuse) / "warehouse" / "ioc.duckdb")}
    return build_province_lake(Path(reuse) if reuse else tmp_path_factory.mktemp("province"))


@dataclass(frozen=True)
class Superset:
    """The running test installation."""

    url: str
    admin: str
    password: str
    settings: Settings
    logins: dict[str, str]  # department demo users

    def token(self, username: str | None = None, password: str | None = None) -> str:
        """A JWT from the security login API."""
        username = username or self.admin
        password = password or (self.password if username == self.admin else self.logins[username])
        response = httpx.post(f"{self.url}/api/v1/security/login", timeout=30,
                              json={"username": username, "password": password, "provider": "db"})
        response.raise_for_status()
        return response.json()["access_token"]

    def client(self, username: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60,
                            headers={"Authorization": f"Bearer {self.token(username)}"})


@pytest.fixture(scope="session")
def superset(province_lake, tmp_path_factory) -> Superset:
    from lakehouse.superset import department_logins, start_superset, stop_superset

    home = tmp_path_factory.mktemp("superset")
    settings = Settings(lake_root=province_lake["IOC_LAKE_ROOT"], warehouse_path=province_lake["IOC_WAREHOUSE_PATH"],
                        superset_home=home, superset_port=free_port(), superset_database="duckdb",
                        superset_metadata_uri="", redis_url="", superset_base_maps=[])
    with pytest.MonkeyPatch.context() as patch:  # throw-away secrets, never the developer's .env
        patch.setenv("SUPERSET_SECRET_KEY", secrets.token_urlsafe(48))
        patch.setenv("SUPERSET_ADMIN_PASSWORD", secrets.token_urlsafe(16))
        url, admin, password = start_superset(settings)
        try:
            yield Superset(url, admin, password, settings, department_logins(settings))
        finally:
            stop_superset(settings)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
