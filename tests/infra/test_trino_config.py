"""Trino's property files (infra/trino: the coordinator's etc/ and the workers' worker/, from
the Trino issue) use only properties Trino documents, with well-formed values; every
``${ENV:...}`` they read is given to the Trino containers by compose and by Helm; compose
mounts every file, and coordinator and workers form one cluster."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import trino_known_keys as known
import yaml
from infra_files import COMPOSE_DIR, HELM_DIR, TRINO_ETC, services

ENV_REF = re.compile(r"\$\{ENV:([A-Za-z_][A-Za-z0-9_]*)\}")
DATA_SIZE = re.compile(r"^\d+(\.\d+)?(B|kB|MB|GB|TB|PB)$")
TRINO_DIR = TRINO_ETC.parent
PROPERTY_FILES = sorted(TRINO_DIR.rglob("*.properties"))
RUNTIME_ENV = {"HOSTNAME"}  # set in every container by Docker and Kubernetes (node.id)


def parse_properties(text: str) -> dict[str, str]:
    """Java properties as Trino reads them (comments, ``=``/``:``, line continuations)."""
    values: dict[str, str] = {}
    pending = ""
    for raw in text.splitlines():
        line = pending + raw.strip()
        pending = ""
        if not line or line[0] in "#!":
            continue
        if line.endswith("\\"):
            pending = line[:-1]
            continue
        key, _, value = re.split(r"\s*([=:])\s*", line, maxsplit=1) if re.search(r"[=:]", line) else (line, "", "")
        values[key] = value
    return values


def problems(path_name: str, props: dict[str, str]) -> list[str]:
    """Unknown properties and malformed values of one file (named as Trino names them)."""
    if path_name == "log.properties":
        return [f"{k}={v}: not a log level" for k, v in props.items() if v.upper() not in known.LOG_LEVELS]
    if path_name.startswith("catalog/"):
        connector = props.get("connector.name")
        allowed = known.CATALOG_BY_CONNECTOR.get(connector or "")
        if allowed is None:
            return [f"connector.name={connector!r}: no known-keys list for this connector"]
    else:
        allowed = known.BY_FILE.get(path_name)
        if allowed is None:
            return [f"{path_name}: not a Trino configuration file this deployment knows"]
    found = [f"unknown property {k!r}" for k in props if k not in allowed]
    for key, value in props.items():
        if ENV_REF.fullmatch(value):
            continue
        if key in known.BOOLEAN and value not in {"true", "false"}:
            found.append(f"{key}={value}: not a boolean")
        if key in known.DATA_SIZE and not DATA_SIZE.match(value):
            found.append(f"{key}={value}: not a data size (e.g. 8GB)")
    return found


def _trino_name(path: Path) -> str:
    parent = path.parent.name
    return f"catalog/{path.name}" if parent == "catalog" else path.name


def test_the_checker_catches_typos_and_bad_values():
    assert problems("config.properties", {"query.max-memroy": "8GB"}) == ["unknown property 'query.max-memroy'"]
    assert problems("config.properties", {"query.max-memory": "8 gigs"})
    assert problems("config.properties", {"coordinator": "yes"})
    assert problems("catalog/x.properties", {"connector.name": "delta_lake", "s3.endpiont": "http://minio:9000"})
    assert problems("catalog/x.properties", {"connector.name": "delta_lake",
                                             "s3.aws-access-key": "${ENV:S3_ACCESS_KEY}"}) == []
    assert parse_properties("a=1\n# c\nb : two \\\n  words\n") == {"a": "1", "b": "two words"}


def test_there_is_a_trino_configuration_to_check():
    names = {str(p.relative_to(TRINO_DIR)) for p in PROPERTY_FILES}
    assert {"etc/config.properties", "etc/node.properties", "etc/catalog/lake.properties",
            "worker/config.properties"} <= names


@pytest.mark.parametrize("path", PROPERTY_FILES, ids=lambda p: str(p.relative_to(COMPOSE_DIR.parent)))
def test_property_files_use_only_documented_properties(path: Path):
    props = parse_properties(path.read_text(encoding="utf-8"))
    assert props, f"{path} is empty"
    assert problems(_trino_name(path), props) == []


def test_no_secret_is_written_in_trino_properties():
    secretish = re.compile(r"(secret|password|access-key|secret-key|shared-secret)$")
    for path in PROPERTY_FILES:
        for key, value in parse_properties(path.read_text(encoding="utf-8")).items():
            if secretish.search(key):
                assert ENV_REF.fullmatch(value), f"{path}: {key} must read ${{ENV:...}}, not a literal"


def _env_refs() -> set[str]:
    return {m for p in PROPERTY_FILES for m in ENV_REF.findall(p.read_text(encoding="utf-8"))}


def test_every_env_reference_is_given_to_trino_by_compose_and_helm():
    refs = _env_refs() - RUNTIME_ENV
    assert "TRINO_SHARED_SECRET" in refs  # at least the workers' shared secret
    for name in ("trino-coordinator", "trino-worker"):
        missing = refs - set(services()[name]["environment"])
        assert not missing, f"compose {name} lacks {sorted(missing)}"
    spec = importlib.util.spec_from_file_location("render_secrets", HELM_DIR / "render_secrets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    missing = refs - set(module.SECRETS["ioc-trino-env"])
    assert not missing, f"Secret ioc-trino-env lacks {sorted(missing)}"


def _mounts(service: str) -> dict[str, str]:
    """container path -> repository path (relative to infra/compose) of a service's bind mounts."""
    found = {}
    for volume in services()[service].get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            found[target] = source
    return found


def test_compose_mounts_every_trino_file():
    coordinator = _mounts("trino-coordinator")
    etc_files = {str(p.relative_to(TRINO_ETC)) for p in TRINO_ETC.iterdir() if p.is_file()}
    mounted = {Path(s).name for s in coordinator.values() if s.startswith("../trino/etc/")}
    assert etc_files <= mounted, f"coordinator does not mount {sorted(etc_files - mounted)}"
    assert coordinator["/etc/trino/catalog"] == "../trino/etc/catalog"
    worker = _mounts("trino-worker")
    assert worker["/etc/trino/config.properties"] == "../trino/worker/config.properties"
    assert worker["/etc/trino/catalog"] == "../trino/etc/catalog"
    # Paths the configuration names exist in the containers (secrets from volumes).
    config = parse_properties((TRINO_ETC / "config.properties").read_text(encoding="utf-8"))
    auth = parse_properties((TRINO_ETC / "password-authenticator.properties").read_text(encoding="utf-8"))
    volumes = {v.split(":")[1] for v in services()["trino-coordinator"]["volumes"] if not v.startswith(".")}
    for path in (config.get("http-server.https.keystore.path"), auth.get("file.password-file")):
        if path:
            assert str(Path(path).parent) in volumes, f"{path} is not on a mounted volume"


def test_workers_join_the_coordinators_cluster():
    worker = parse_properties((TRINO_DIR / "worker" / "config.properties").read_text(encoding="utf-8"))
    coordinator = parse_properties((TRINO_ETC / "config.properties").read_text(encoding="utf-8"))
    node = parse_properties((TRINO_ETC / "node.properties").read_text(encoding="utf-8"))
    assert coordinator["coordinator"] == "true" and worker["coordinator"] == "false"
    host = re.match(r"https?://([^:/]+)", worker["discovery.uri"]).group(1)
    assert host in services(), f"discovery.uri names {host}, not a compose service"
    assert worker["internal-communication.shared-secret"] == coordinator["internal-communication.shared-secret"]
    # One node.environment everywhere: both containers mount the same node.properties, and the
    # Helm chart is given the same value.
    assert _mounts("trino-worker")["/etc/trino/node.properties"] == _mounts("trino-coordinator")["/etc/trino/node.properties"]
    values = yaml.safe_load((HELM_DIR / "values" / "trino.yaml").read_text(encoding="utf-8"))
    assert values["server"]["node"]["environment"] == node["node.environment"]
    assert values["server"]["config"]["query"]["maxMemory"] == coordinator["query.max-memory"]
    assert values["worker"]["config"]["query"]["maxMemoryPerNode"] == worker["query.max-memory-per-node"]
    assert values["server"]["config"]["https"]["port"] == int(coordinator["http-server.https.port"])
    assert values["server"]["config"]["authenticationType"] == coordinator["http-server.authentication.type"]
