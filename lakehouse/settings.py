"""Typed platform settings, read from environment variables (prefix ``IOC_``) and ``.env``.

One object decides embedded vs production mode; code never branches on anything else.
"""

from __future__ import annotations

import os
from enum import Enum
from functools import lru_cache
from pathlib import Path

from dotenv import dotenv_values
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


def generated_secret(name: str, env_file: Path = REPO_ROOT / ".env") -> str:
    """A secret ``make setup`` generated (infra/scripts/generate-secrets.sh).

    The process environment first (tests, containers), then ``.env``; never a default, so a
    missing secret is a clear error rather than a weak password.
    """
    value = os.environ.get(name) or (dotenv_values(env_file).get(name) if env_file.exists() else None)
    if not value:
        raise RuntimeError(f"{name} is not set and not in {env_file}: run `make setup` "
                           "(infra/scripts/generate-secrets.sh) to generate the platform's secrets")
    return value


class Mode(str, Enum):
    embedded = "embedded"
    production = "production"


class Settings(BaseSettings):
    """Everything the platform reads from its environment. See ``.env.example``."""

    model_config = SettingsConfigDict(
        env_prefix="IOC_", env_file=REPO_ROOT / ".env", env_file_encoding="utf-8", extra="ignore"
    )

    mode: Mode = Mode.embedded
    lake_root: str = Field(
        default=str(REPO_ROOT / "var" / "lake"),
        description="Root of the Delta lake: a local folder or s3://bucket/prefix.",
    )
    landing_root: Path = Field(
        default=REPO_ROOT / "var" / "landing",
        description="Where departments drop files: <source>/incoming → processed | failed.",
    )
    catalog_dir: Path = REPO_ROOT / "catalog"
    dbt_project_dir: Path = REPO_ROOT / "dbt_project"
    warehouse_path: Path = Field(
        default=REPO_ROOT / "var" / "warehouse" / "ioc.duckdb",
        description="DuckDB file dbt builds into before gold is published as Delta.",
    )
    gx_root: Path = Field(
        default=REPO_ROOT / "var" / "gx",
        description="Great Expectations project: suites, validation results, Data Docs (local folder).",
    )
    storage_options: dict[str, str] = Field(
        default_factory=dict, description="delta-rs / object store options (S3 endpoint, keys)."
    )

    # Service URLs; empty means "not configured", never a hard-coded host.
    postgres_url: str = ""
    mysql_url: str = ""
    mqtt_url: str = ""
    redis_url: str = ""
    trino_url: str = ""
    # The SQL gateway (`ioc serve-sql`): Trino's client protocol over DuckDB, enforcing rules.json.
    sql_gateway_host: str = Field(
        default="127.0.0.1",
        description="Bind address; anything but loopback needs a password file and TLS (refused otherwise).")
    sql_gateway_port: int = Field(default=8080, description="Trino's default port (Airflow's UI moves to 8081).")
    sql_gateway_trino_etc: Path = Field(
        default=REPO_ROOT / "infra" / "trino" / "etc",
        description="Production Trino config: rules.json, group.txt and catalog/ (the lake catalog's name).")
    sql_gateway_password_file: str = Field(
        default="", description="Trino password file (user:bcrypt); empty = no authentication (loopback only).")
    sql_gateway_tls_cert: str = Field(default="", description="PEM certificate: serve HTTPS (with tls_key).")
    sql_gateway_tls_key: str = ""
    sql_gateway_page_rows: int = Field(default=50_000, description="Rows per result page at most (nextUri paging).")
    sql_gateway_page_bytes: int = Field(default=8 * 1024 * 1024, description="Bytes per result page, about.")
    sql_gateway_max_running: int = Field(default=4, description="Queries executing at once; more wait QUEUED.")
    sql_gateway_memory_limit: str = Field(default="4GB", description="DuckDB memory limit for the gateway.")
    sql_gateway_client_timeout_s: float = Field(
        default=300.0, description="A query whose client stops fetching for this long is abandoned.")
    sql_gateway_audit_flush_s: float = Field(
        default=2.0, description="Audit records are committed to ops.query_audit at least this often.")
    sql_gateway_spool_dir: Path = Field(
        default=REPO_ROOT / "var" / "gateway", description="Audit spool (uncommitted audit records).")
    api_base_urls: dict[str, str] = Field(
        default_factory=dict,
        description="Base URL per API source system, e.g. {\"open311\": \"https://ioc.quangninh.gov.vn\"}.",
    )
    bulk_csv_min_bytes: int = Field(
        default=64 * 1024 * 1024,
        description="CSV deliveries at least this large take the DuckDB bulk path (same semantics).",
    )
    spark_master: str = "local[2]"
    spark_ui: bool | None = Field(
        default=None, description="Spark web UI; unset = off while pytest runs a test, on elsewhere.")
    spark_dir: Path = Field(
        default=REPO_ROOT / "var" / "spark",
        description="Embedded Spark scratch: SQL warehouse and Derby home (never the working directory).",
    )
    spark_driver_memory: str = Field(default="2g", description="Embedded Spark driver heap.")
    mlflow_tracking_uri: str = Field(
        default="", description="MLflow tracking server; empty = SQLite + local artifacts under mlflow_root.")
    mlflow_root: Path = Field(
        default=REPO_ROOT / "var" / "mlflow",
        description="Embedded MLflow: metadata DB (SQLite) and artifact store (local folder).",
    )

    # Superset (lakehouse/superset): dashboards and the digital map over gold.
    superset_home: Path = Field(
        default=REPO_ROOT / "var" / "superset",
        description="Embedded Superset: metadata DB (SQLite), serving DuckDB file, PID and log.")
    superset_port: int = 8088
    superset_database: str = Field(
        default="duckdb", description="The lake database Superset's datasets query: duckdb (embedded) | trino.")
    superset_metadata_uri: str = Field(
        default="", description="Superset's metadata DB; empty = SQLite under superset_home (PostgreSQL in production).")
    superset_trino_uri: str = Field(
        default="trino://superset@127.0.0.1:8080/lake", description="Trino (or the SQL gateway) when superset_database=trino.")
    superset_base_maps: list[list[str]] = Field(
        default_factory=list,
        description='deck.gl base maps [[url, name], ...]; empty = OpenStreetMap tiles. The first is the maps\' default.')

    alert_webhooks: dict[str, str] = Field(
        default_factory=dict,
        description="Forecast-alert webhook per department code ('*' = any department without its own).",
    )

    timezone: str = "Asia/Ho_Chi_Minh"

    # The public side: the Open311 read API (lakehouse.publicapi) and the open-data export.
    public_api_host: str = Field(default="127.0.0.1", description="Interface the public API listens on.")
    public_api_port: int = Field(default=8300, ge=1, le=65535, description="Port of the public API.")
    public_base_url: str = Field(
        default="", description="URL the public reaches the API at (open-data download links); "
        "empty = http://<public_api_host>:<public_api_port>.")
    public_api_rate_per_minute: float = Field(
        default=120, gt=0, description="Requests one client may make per minute, sustained (token bucket).")
    public_api_burst: int = Field(default=40, ge=1, description="Requests one client may make at once.")
    opendata_dir: str = Field(
        default="", description="Where the open-data export is written (a local folder); "
        "empty = <lake_root>/objects/opendata.")
    opendata_license: str = Field(
        default="https://creativecommons.org/licenses/by/4.0/", description="Licence of the open data (a URI).")

    # Generated by `make setup` into .env (git-ignored); never committed, never defaulted.
    pii_salt: SecretStr = SecretStr("")

    @property
    def mlflow_uri(self) -> str:
        """Tracking and registry URI: the configured server, else the embedded SQLite store."""
        return self.mlflow_tracking_uri or f"sqlite:///{self.mlflow_root / 'mlflow.db'}"

    @property
    def public_url(self) -> str:
        """Base URL of the public API as the public reaches it."""
        return (self.public_base_url or f"http://{self.public_api_host}:{self.public_api_port}").rstrip("/")

    @property
    def opendata_path(self) -> Path:
        """The open-data export folder (a local folder: the public API serves it)."""
        if self.opendata_dir:
            return Path(self.opendata_dir)
        if not self.is_local_lake:
            raise ValueError("the lake is on an object store: set IOC_OPENDATA_DIR to a local folder "
                             "for the open-data export")
        return Path(self.lake_root.removeprefix("file://")) / "objects" / "opendata"

    @property
    def sql_gateway_password_path(self) -> Path | None:
        return Path(self.sql_gateway_password_file) if self.sql_gateway_password_file else None

    @property
    def is_local_lake(self) -> bool:
        return "://" not in self.lake_root or self.lake_root.startswith("file://")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    """Tests and the CLI change environment variables; forget the cached object."""
    get_settings.cache_clear()
