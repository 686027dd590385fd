#!/usr/bin/env python3
"""Kubernetes Secrets for the IOC platform, from one generated env file (never committed).

    ../compose/generate-env.sh env.template .env        # secrets generated, 0600
    python3 render_secrets.py .env | kubectl apply -n ioc -f -

Compose interpolates its ``${VAR}``s into the services' environment; on Kubernetes the same
values are assembled here into the Secrets the charts and manifests name. Standard library
only (runs on an operator's host). The Secret names and keys are declared in ``SECRETS`` so
tests/infra/test_settings_coverage.py can check them against the settings the code reads.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

Env = dict[str, str]


def read_env(path: Path) -> Env:
    env: Env = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value
    return env


def _pg(user: str, password_key: str, db: str, scheme: str = "postgresql+psycopg") -> Callable[[Env], str]:
    return lambda e: f"{scheme}://{user}:{e[password_key]}@{e['PG_HOST']}:{e['PG_PORT']}/{db}"


def _storage_options(e: Env) -> str:
    return json.dumps({"AWS_ENDPOINT_URL": e["S3_ENDPOINT_URL"], "AWS_REGION": e["S3_REGION"],
                       "AWS_ACCESS_KEY_ID": e["LAKE_S3_ACCESS_KEY"], "AWS_SECRET_ACCESS_KEY": e["LAKE_S3_SECRET_KEY"],
                       "AWS_ALLOW_HTTP": str(e["S3_ENDPOINT_URL"].startswith("http://")).lower()})


def _redis(db: int) -> Callable[[Env], str]:
    return lambda e: f"redis://:{e['REDIS_PASSWORD']}@{e['REDIS_HOST']}:6379/{db}"


def _copy(key: str) -> Callable[[Env], str]:
    return lambda e: e[key]


# secret name -> key -> value from the env file
SECRETS: dict[str, dict[str, Callable[[Env], str]]] = {
    "ioc-platform-secrets": {
        "IOC_STORAGE_OPTIONS": _storage_options,
        "IOC_PII_SALT": _copy("IOC_PII_SALT"),
        "IOC_MQTT_URL": lambda e: f"mqtt://ioc:{e['MQTT_PASSWORD']}@mosquitto:1883",
        "IOC_REDIS_URL": _redis(0),
        "IOC_POSTGRES_URL": _copy("DEPT_POSTGRES_URL"),
        "IOC_MYSQL_URL": _copy("DEPT_MYSQL_URL"),
        "IOC_SUPERSET_METADATA_URI": _pg("superset", "SUPERSET_DB_PASSWORD", "superset", "postgresql+psycopg2"),
        "IOC_SUPERSET_TRINO_URI": lambda e: f"trino://superset:{e['TRINO_SUPERSET_PASSWORD']}@trino:8443/lake",
        "IOC_TRINO_PASSWORD": _copy("TRINO_DBT_PASSWORD"),
        "MQTT_PASSWORD": _copy("MQTT_PASSWORD"),
        "AIRFLOW_ADMIN_PASSWORD": _copy("AIRFLOW_ADMIN_PASSWORD"),
    },
    "ioc-airflow-metadata": {"connection": _pg("airflow", "AIRFLOW_DB_PASSWORD", "airflow")},
    "ioc-airflow-fernet": {"fernet-key": _copy("AIRFLOW__CORE__FERNET_KEY")},
    "ioc-airflow-api": {"api-secret-key": _copy("AIRFLOW__API__SECRET_KEY")},
    "ioc-airflow-jwt": {"jwt-secret": _copy("AIRFLOW__API_AUTH__JWT_SECRET")},
    "ioc-superset-env": {
        "SUPERSET_SECRET_KEY": _copy("SUPERSET_SECRET_KEY"),
        "IOC_SUPERSET_METADATA_URI": _pg("superset", "SUPERSET_DB_PASSWORD", "superset", "postgresql+psycopg2"),
        "IOC_SUPERSET_ADMIN_USER": lambda e: "admin",
        "IOC_SUPERSET_ADMIN_PASSWORD": _copy("SUPERSET_ADMIN_PASSWORD"),
        "IOC_SUPERSET_BASE_MAPS": _copy("SUPERSET_BASE_MAPS"),
        "IOC_SUPERSET_THUMBNAILS": lambda e: "",
        "IOC_SUPERSET_TRINO_URI": lambda e: f"trino://superset:{e['TRINO_SUPERSET_PASSWORD']}@trino:8443/lake",
        "IOC_REDIS_URL": _redis(1),
    },
    "ioc-trino-env": {
        "S3_ENDPOINT": _copy("S3_ENDPOINT_URL"),
        "S3_REGION": _copy("S3_REGION"),
        "S3_ACCESS_KEY": _copy("LAKE_S3_ACCESS_KEY"),
        "S3_SECRET_KEY": _copy("LAKE_S3_SECRET_KEY"),
        "TRINO_SHARED_SECRET": _copy("TRINO_SHARED_SECRET"),
    },
    "ioc-hive-env": {
        "SERVICE_OPTS": lambda e: (
            "-Djavax.jdo.option.ConnectionDriverName=org.postgresql.Driver "
            f"-Djavax.jdo.option.ConnectionURL=jdbc:postgresql://{e['PG_HOST']}:{e['PG_PORT']}/metastore "
            "-Djavax.jdo.option.ConnectionUserName=hive "
            f"-Djavax.jdo.option.ConnectionPassword={e['HIVE_DB_PASSWORD']} "
            "-Dhive.metastore.warehouse.dir=s3a://ioc-lake/warehouse"),
        "S3_ENDPOINT_URL": _copy("S3_ENDPOINT_URL"),
        "S3_REGION": _copy("S3_REGION"),
        "S3_ACCESS_KEY": _copy("LAKE_S3_ACCESS_KEY"),
        "S3_SECRET_KEY": _copy("LAKE_S3_SECRET_KEY"),
    },
    "ioc-mlflow-env": {
        "MLFLOW_BACKEND_STORE_URI": _pg("mlflow", "MLFLOW_DB_PASSWORD", "mlflow"),
        "MLFLOW_S3_ENDPOINT_URL": _copy("S3_ENDPOINT_URL"),
        "AWS_ACCESS_KEY_ID": _copy("LAKE_S3_ACCESS_KEY"),
        "AWS_SECRET_ACCESS_KEY": _copy("LAKE_S3_SECRET_KEY"),
        "AWS_DEFAULT_REGION": _copy("S3_REGION"),
    },
}


def render(env: Env) -> dict:
    """A ``v1/List`` of the Secrets (``stringData``: kubectl encodes them)."""
    placeholders = sorted(k for k, v in env.items() if v.startswith("<generate:"))
    if placeholders:
        raise SystemExit(f"not generated yet: {placeholders}; run ../compose/generate-env.sh first")
    items = [{"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": {"name": name},
              "stringData": {key: value(env) for key, value in keys.items()}}
             for name, keys in SECRETS.items()]
    return {"apiVersion": "v1", "kind": "List", "items": items}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    json.dump(render(read_env(Path(argv[1]))), sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
