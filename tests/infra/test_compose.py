"""Static validation of the Compose stack (no Docker engine here): the Compose spec's schema,
pinned images, healthchecks, the services the platform needs, files it mounts, secrets only
from the generated env file."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
from pathlib import Path

import jsonschema
import pytest
from infra_files import (
    COMPOSE_DIR,
    ENV_TEMPLATE,
    INFRA,
    INTERPOLATION,
    PINNED_TAG,
    compose,
    env_template,
    services,
    split_image,
    walk,
)

REQUIRED = {
    "minio", "postgres", "hive-metastore", "trino-coordinator", "trino-worker", "spark-master",
    "spark-worker", "airflow-api-server", "airflow-scheduler", "airflow-dag-processor",
    "airflow-triggerer", "superset", "redis", "mlflow", "mosquitto", "ioc-public-api",
    "ioc-mqtt-consumer",
}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|_KEY$|SALT|TOKEN|FERNET", re.IGNORECASE)
NOT_SECRET = re.compile(r"_(FILE|USERS?)$")  # a path to a secret, a user name


def _one_shot(spec: dict) -> bool:
    return spec.get("restart") == "no"


def test_compose_file_is_valid_against_the_compose_spec():
    import check_jsonschema

    schema_file = (Path(check_jsonschema.__file__).parent / "builtin_schemas" / "vendor" / "compose-spec.json")
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    jsonschema.validate(compose(), schema)
    # ...and a broken file is caught (the schema is really applied).
    broken = json.loads(json.dumps(compose()))
    broken["services"]["postgres"]["healthchek"] = broken["services"]["postgres"].pop("healthcheck")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_the_platform_needs_these_services():
    assert REQUIRED <= set(services())


def test_every_image_is_pinned_to_a_version():
    for name, spec in services().items():
        assert "image" in spec, f"{name}: no image (a built service still names its pinned tag)"
        _, tag = split_image(spec["image"])
        assert tag and PINNED_TAG.match(tag), f"{name}: {spec['image']} is not pinned to a version"
        assert "${" not in spec["image"], f"{name}: image tag must not come from a variable"


def test_built_images_name_dockerfiles_that_exist_and_pin_their_bases():
    built = {name: spec for name, spec in services().items() if "build" in spec}
    assert {"airflow-scheduler", "spark-master", "superset-init", "hive-metastore"} <= set(built)
    for name, spec in built.items():
        context = (COMPOSE_DIR / spec["build"]["context"]).resolve()
        dockerfile = context / spec["build"]["dockerfile"]
        assert dockerfile.is_file(), f"{name}: {dockerfile} missing"
        text = dockerfile.read_text(encoding="utf-8")
        args = dict(re.findall(r"^ARG (\w+)=(\S+)", text, re.MULTILINE))
        for base in re.findall(r"^FROM (\S+)", text, re.MULTILINE):
            image = re.sub(r"\$\{(\w+)\}", lambda m, a=args: a.get(m.group(1), m.group(0)), base)
            if image in {"uv"} or "${" in image:
                continue
            _, tag = split_image(image)
            assert tag and PINNED_TAG.match(tag), f"{dockerfile}: base {image} is not pinned"
    # One tag per built image: services that share an image build it identically.
    tags: dict[str, set[str]] = {}
    for spec in built.values():
        tags.setdefault(spec["image"], set()).add(json.dumps(spec["build"], sort_keys=True))
    assert all(len(v) == 1 for v in tags.values()), tags


def test_every_long_running_service_has_a_healthcheck_and_a_restart_policy():
    for name, spec in services().items():
        if _one_shot(spec):
            continue
        check = spec.get("healthcheck")
        assert check and not check.get("disable") and check.get("test"), f"{name}: no healthcheck"
        assert spec.get("restart") in {"unless-stopped", "always"}, f"{name}: restart {spec.get('restart')}"


def test_dependencies_wait_for_the_right_state():
    names = set(services())
    for name, spec in services().items():
        for target, condition in (spec.get("depends_on") or {}).items():
            assert target in names, f"{name} depends on unknown {target}"
            wanted = condition["condition"]
            if wanted == "service_healthy":
                assert "healthcheck" in services()[target], f"{name} waits for {target} to be healthy: it has no check"
            elif wanted == "service_completed_successfully":
                assert _one_shot(services()[target]), f"{name} waits for long-running {target} to complete"


def _bind_sources() -> list[tuple[str, str]]:
    found = []
    for name, spec in services().items():
        for volume in spec.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith("."):
                found.append((name, source))
    return found


def test_mounted_files_exist():
    """Everything compose mounts from this repository exists (Trino's files: next test)."""
    for name, source in _bind_sources():
        if not source.startswith("../trino/"):
            assert (COMPOSE_DIR / source).exists(), f"{name} mounts {source}, which does not exist"


def test_trino_configuration_from_the_trino_issue_is_present():
    """Trino runs with infra/trino/etc (owned by the Trino issue): the coordinator mounts the
    folder, workers its catalog and JVM settings."""
    trino = [(n, s) for n, s in _bind_sources() if s.startswith("../trino/")]
    assert {n for n, _ in trino} == {"trino-coordinator", "trino-worker"}
    missing = sorted({s for _, s in trino if not (COMPOSE_DIR / s).exists()})
    assert not missing, f"infra/trino/etc lacks what compose mounts: {missing}"
    assert (COMPOSE_DIR / "../trino/etc/config.properties").is_file()
    assert (COMPOSE_DIR / "../trino/etc/catalog/lake.properties").is_file()


def test_every_variable_compose_interpolates_is_in_the_env_template():
    template = env_template()
    used = {name for _, _, value in walk(compose()) if isinstance(value, str)
            for name in INTERPOLATION.findall(value)}
    used |= {name for _, key, value in walk(compose()) for item in (value if isinstance(value, list) else [])
             if isinstance(item, str) for name in INTERPOLATION.findall(item)}
    assert used, "compose takes its secrets and choices from the env file"
    missing = used - set(template)
    assert not missing, f"compose.yaml uses variables env.template does not define: {sorted(missing)}"


def test_no_secret_is_committed():
    # In the template: every secret is a placeholder the generator fills.
    for key, value in env_template().items():
        if SECRET_NAME.search(key) and not NOT_SECRET.search(key):
            assert value.startswith("<generate:"), f"env.template: {key} must be <generate:...>, not a value"
    # In compose: secret-named settings come from the env file (or are empty), never literals.
    for name, spec in services().items():
        env = spec.get("environment") or {}
        for key, value in (env.items() if isinstance(env, dict) else []):
            if SECRET_NAME.search(key) and not NOT_SECRET.search(key) and value not in ("", None):
                assert INTERPOLATION.search(str(value)), f"{name}: {key} is a literal, not ${{VAR}}"


def test_generate_env_fills_every_secret_keeps_existing_ones_and_is_private(tmp_path: Path):
    target = tmp_path / ".env"
    script = COMPOSE_DIR / "generate-env.sh"
    subprocess.run(["bash", str(script), str(ENV_TEMPLATE), str(target)], check=True, capture_output=True)
    first = env_template(target)
    assert set(first) == set(env_template())
    assert not [k for k, v in first.items() if v.startswith("<generate")]
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    import base64

    assert len(base64.urlsafe_b64decode(first["AIRFLOW__CORE__FERNET_KEY"])) == 32  # a valid Fernet key
    generated = [k for k, v in env_template().items() if v.startswith("<generate:")]
    assert len({first[k] for k in generated}) == len(generated), "every secret is different"
    # Re-running never rotates a secret (the PII salt must stay the same).
    subprocess.run(["bash", str(script), str(ENV_TEMPLATE), str(target)], check=True, capture_output=True)
    assert env_template(target) == first
    # ...and a second deployment gets different secrets.
    other = tmp_path / "other.env"
    subprocess.run(["bash", str(script), str(ENV_TEMPLATE), str(other)], check=True, capture_output=True)
    assert env_template(other)["IOC_PII_SALT"] != first["IOC_PII_SALT"]


def test_generated_env_files_are_git_ignored():
    for path in (COMPOSE_DIR / ".env", INFRA / "helm" / ".env"):
        result = subprocess.run(["git", "check-ignore", "-q", str(path)], cwd=INFRA.parent, check=False)
        assert result.returncode == 0, f"{path} would be committed"


def test_the_platform_services_run_the_platform_image_with_the_platform_settings():
    platform = [n for n, s in services().items() if s["image"].startswith("ioc/platform:") and not _one_shot(s)]
    assert {"airflow-scheduler", "spark-worker", "mlflow", "ioc-public-api", "ioc-mqtt-consumer"} <= set(platform)
    for name in platform:
        env = services()[name].get("environment") or {}
        if name == "mlflow":  # the tracking server only needs its own store settings
            continue
        assert env.get("IOC_MODE") == "production", name
        assert env.get("IOC_LAKE_ROOT", "").startswith("s3://"), name
    # Spark master and workers speak the URL the platform submits to.
    master = services()["spark-master"]["environment"]["IOC_SPARK_MASTER"]
    assert master == "spark://spark-master:7077"
    assert master in " ".join(services()["spark-worker"]["command"])


def test_trino_registration_statements_register_only_new_tables():
    import importlib.util

    spec = importlib.util.spec_from_file_location("register", COMPOSE_DIR / "register_trino_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tables = [("gold", "incidents", "s3://ioc-lake/lake/gold/incidents"),
              ("silver", "o'brien", "s3://ioc-lake/lake/silver/o'brien")]
    sql = module.statements("lake", "s3://ioc-lake/lake/", tables, registered={("gold", "incidents")})
    assert sql == [
        """CREATE SCHEMA IF NOT EXISTS "lake"."gold" WITH (location = 's3://ioc-lake/lake/gold')""",
        """CREATE SCHEMA IF NOT EXISTS "lake"."silver" WITH (location = 's3://ioc-lake/lake/silver')""",
        ("""CALL "lake".system.register_table(schema_name => 'silver', table_name => 'o''brien', """
        """table_location => 's3://ioc-lake/lake/silver/o''brien')"""),
    ]
    # The helpers the image runs are copied into it.
    dockerfile = (INFRA / "docker/platform/Dockerfile").read_text(encoding="utf-8")
    assert "infra/compose/trino_secrets.py infra/compose/register_trino_tables.py" in dockerfile


def test_services_told_to_trust_trinos_certificate_can_read_it():
    """REQUESTS_CA_BUNDLE pointing at a missing file breaks every HTTPS call of the process."""
    told = {n: s for n, s in services().items() if "REQUESTS_CA_BUNDLE" in (s.get("environment") or {})}
    assert {"airflow-scheduler", "superset", "spark-worker"} <= set(told)
    for name, spec in told.items():
        folder = str(Path(spec["environment"]["REQUESTS_CA_BUNDLE"]).parent)
        mounted = {v.split(":")[1] for v in spec.get("volumes", []) if isinstance(v, str)}
        assert folder in mounted, f"{name} trusts {folder} but does not mount it"
    assert "trino-secrets" in {n for n, s in services().items() if _one_shot(s)}
