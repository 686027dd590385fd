"""Every setting the code reads is provided by the deployment: compose's platform environment
and the Kubernetes ConfigMap + Secrets carry every ``IOC_*`` variable the platform reads
(``lakehouse.settings.Settings`` fields, direct environment reads, the dbt profile), and the
values they carry parse as valid production settings."""

from __future__ import annotations

import ast
import importlib.util
import json
import re
from pathlib import Path

import yaml
from infra_files import HELM_DIR, INTERPOLATION, env_template, platform_env, services

from lakehouse.pipeline.dbt_runner import dbt_env
from lakehouse.settings import REPO_ROOT, Mode, Settings

PLATFORM_CODE = ["lakehouse", "dags", "spark_jobs"]
# Settings of the embedded SQL gateway (`ioc serve-sql`, Trino's protocol over DuckDB): the
# one-machine stand-in for Trino. A deployment runs Trino itself (infra/trino), not the gateway.
NOT_DEPLOYED_PREFIXES = ("IOC_SQL_GATEWAY_",)
SUPERSET_CODE = ["infra/superset"]
ENV_VAR_IN_DBT = re.compile(r"env_var\(\s*['\"](IOC_[A-Z0-9_]+)['\"]")


def _environ_reads(folders: list[str]) -> set[str]:
    """``IOC_*`` names read through ``os.environ[...]``, ``os.environ.get``/``setdefault``
    or ``os.getenv`` (string literals only: the reads a deployment must satisfy)."""
    found: set[str] = set()
    for folder in folders:
        for path in (REPO_ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                name = None
                if isinstance(node, ast.Subscript) and ast.unparse(node.value).endswith("environ"):
                    name = node.slice
                elif isinstance(node, ast.Call) and node.args and (
                        ast.unparse(node.func).endswith(("environ.get", "environ.setdefault", "getenv"))):
                    name = node.args[0]
                if isinstance(name, ast.Constant) and isinstance(name.value, str) and name.value.startswith("IOC_"):
                    found.add(name.value)
    return found


def _derived() -> set[str]:
    """Variables the platform computes from its settings for its own child processes (the dbt
    runner's environment): set by the code, not by the deployment."""
    s3 = Settings(lake_root="s3://bucket/lake", storage_options={"AWS_ACCESS_KEY_ID": "k"})
    return {k for k in dbt_env(s3) if k.startswith("IOC_")} - {"IOC_LAKE_ROOT", "IOC_WAREHOUSE_PATH", "IOC_TIMEZONE"}


def platform_settings() -> set[str]:
    fields = {f"IOC_{name.upper()}" for name in Settings.model_fields}
    dbt = {m for p in (REPO_ROOT / "dbt_project").rglob("*.yml") if "target" not in p.parts
           for m in ENV_VAR_IN_DBT.findall(p.read_text(encoding="utf-8"))}
    found = (fields | _environ_reads(PLATFORM_CODE) | dbt) - _derived()
    return {name for name in found if not name.startswith(NOT_DEPLOYED_PREFIXES)}


def superset_settings() -> set[str]:
    return _environ_reads(SUPERSET_CODE)


def _render_secrets():
    spec = importlib.util.spec_from_file_location("render_secrets", HELM_DIR / "render_secrets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _configmap(name: str) -> dict[str, str]:
    for doc in yaml.safe_load_all((HELM_DIR / "platform" / "settings.yaml").read_text(encoding="utf-8")):
        if doc and doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == name:
            return doc["data"]
    raise AssertionError(f"ConfigMap {name} not found")


def test_the_scan_finds_what_the_code_reads():
    found = platform_settings()
    # Fields, a direct environment read (orchestration.dbt_target) and the dbt profile's Trino
    # connection are all seen; the dbt runner's own derived variables are not asked for.
    assert {"IOC_LAKE_ROOT", "IOC_STORAGE_OPTIONS", "IOC_PII_SALT", "IOC_DBT_TARGET", "IOC_TRINO_HOST"} <= found
    assert not {n for n in found if n.startswith("IOC_DUCKDB_")}


def test_compose_provides_every_platform_setting():
    missing = platform_settings() - set(platform_env())
    assert not missing, f"compose.yaml x-platform-env lacks settings the code reads: {sorted(missing)}"


def test_compose_provides_every_superset_setting():
    env = services()["superset"]["environment"]
    missing = superset_settings() - set(env)
    assert not missing, f"the superset service lacks settings its config reads: {sorted(missing)}"


def test_kubernetes_provides_every_platform_and_superset_setting():
    secrets = _render_secrets().SECRETS
    platform = set(_configmap("ioc-platform")) | set(secrets["ioc-platform-secrets"])
    missing = platform_settings() - platform
    assert not missing, f"ConfigMap ioc-platform + Secret ioc-platform-secrets lack: {sorted(missing)}"
    superset_values = yaml.safe_load((HELM_DIR / "values" / "superset.yaml").read_text(encoding="utf-8"))
    superset = set(superset_values["extraEnv"]) | set(secrets["ioc-superset-env"])
    missing = superset_settings() - superset
    assert not missing, f"Superset's chart values + Secret ioc-superset-env lack: {sorted(missing)}"


def test_compose_and_kubernetes_give_the_same_settings_the_same_meaning():
    """Same keys; values differ only where a host name or a secret does."""
    compose_env = {k: v for k, v in platform_env().items() if k.startswith("IOC_")}
    k8s = {k: v for k, v in _configmap("ioc-platform").items() if k.startswith("IOC_")}
    k8s_keys = set(k8s) | {k for k in _render_secrets().SECRETS["ioc-platform-secrets"] if k.startswith("IOC_")}
    assert set(compose_env) == k8s_keys
    same = {"IOC_MODE", "IOC_LAKE_ROOT", "IOC_LANDING_ROOT", "IOC_CATALOG_DIR", "IOC_DBT_PROJECT_DIR",
            "IOC_WAREHOUSE_PATH", "IOC_GX_ROOT", "IOC_TIMEZONE", "IOC_DBT_TARGET", "IOC_TRINO_CATALOG"}
    assert {k: compose_env[k] for k in same} == {k: k8s[k] for k in same}


def _settings_from(env: dict[str, str]) -> Settings:
    """``env`` as the container sees it: ``${VAR}`` filled from env.template, generated
    secrets replaced by a placeholder."""
    template = {k: ("generated-secret" if v.startswith("<generate:") else v) for k, v in env_template().items()}
    resolved = {k: INTERPOLATION.sub(lambda m: template[m.group(1)], v) for k, v in env.items()}
    values = {}
    for key, value in resolved.items():
        field = key.removeprefix("IOC_").lower()
        if key.startswith("IOC_") and field in Settings.model_fields:
            values[field] = value
    return Settings.model_validate({k: (json.loads(v) if Settings.model_fields[k].annotation in (
        dict[str, str], list[list[str]]) else v) for k, v in values.items()})


def test_the_production_environment_parses_as_production_settings():
    settings = _settings_from(platform_env())
    assert settings.mode is Mode.production
    assert not settings.is_local_lake and settings.lake_root == "s3://ioc-lake/lake"
    assert {"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= set(settings.storage_options)
    assert "AWS_S3_ALLOW_UNSAFE_RENAME" not in settings.storage_options  # conditional puts instead
    assert settings.spark_master.startswith("spark://") and settings.mlflow_tracking_uri.startswith("http://")
    k8s = _settings_from(_configmap("ioc-platform"))
    assert k8s.mode is Mode.production and k8s.spark_master.startswith("k8s://")


def test_rendered_kubernetes_secrets_are_complete(tmp_path: Path):
    import subprocess

    env_file = tmp_path / ".env"
    subprocess.run(["bash", str(REPO_ROOT / "infra/compose/generate-env.sh"), str(HELM_DIR / "env.template"),
                    str(env_file)], check=True, capture_output=True)
    rendered = _render_secrets().render(env_template(env_file))
    by_name = {item["metadata"]["name"]: item["stringData"] for item in rendered["items"]}
    options = json.loads(by_name["ioc-platform-secrets"]["IOC_STORAGE_OPTIONS"])
    assert options["AWS_ACCESS_KEY_ID"] == env_template(env_file)["LAKE_S3_ACCESS_KEY"]
    assert all(value for secret in by_name.values() for key, value in secret.items()
               if key not in {"IOC_SUPERSET_THUMBNAILS"})
    assert not any("<generate" in v for secret in by_name.values() for v in secret.values())
    # Every Secret a chart or manifest refers to is one render_secrets makes.
    referenced: set[str] = set()
    for path in HELM_DIR.rglob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        referenced |= set(re.findall(r"secretRef:\s*(?:\{\s*name:\s*|\n\s*name:\s*)([\w-]+)", text))
        referenced |= set(re.findall(r"(?:[sS]ecretName|envFromSecret|passwordAuthSecret|secretKeyRef: \{name):\s*([\w-]+)",
                                     text))
    made = set(by_name) | set(re.findall(r"create secret generic ([\w-]+)",
                                         (HELM_DIR / "install.sh").read_text(encoding="utf-8")))
    assert {"ioc-platform-secrets", "ioc-trino-passwords", "ioc-trino-tls"} <= referenced
    assert referenced <= made, sorted(referenced - made)
