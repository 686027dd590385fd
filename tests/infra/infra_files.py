"""What the deployment files say, read once for the infra tests: the compose stack, the Helm
values and manifests, the env templates. Plain YAML parsing; no Docker or cluster needed."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from lakehouse.settings import REPO_ROOT

INFRA = REPO_ROOT / "infra"
COMPOSE_DIR = INFRA / "compose"
COMPOSE_FILE = COMPOSE_DIR / "compose.yaml"
ENV_TEMPLATE = COMPOSE_DIR / "env.template"
HELM_DIR = INFRA / "helm"
TRINO_ETC = INFRA / "trino" / "etc"

INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:[:?-][^}]*)?\}")
# A tag that names a release: digits somewhere (16.9-bookworm, 476, RELEASE.2025-...), never latest.
PINNED_TAG = re.compile(r"^(?!latest$)[A-Za-z0-9._-]*\d[A-Za-z0-9._-]*$")


@cache
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def platform_env() -> dict[str, str]:
    """The IOC_* (and other) variables every platform-image container gets (x-platform-env)."""
    return {k: str(v) for k, v in compose()["x-platform-env"].items()}


def env_template(path: Path = ENV_TEMPLATE) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", line.strip())
        if match:
            values[match.group(1)] = match.group(2)
    return values


def split_image(image: str) -> tuple[str, str | None]:
    """``repo[:tag]`` → (repo, tag); a registry port is not a tag."""
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:
        return image, None
    return name, tag


def helm_documents() -> dict[Path, list[Any]]:
    """Every YAML document under infra/helm (values, charts.yaml, manifests)."""
    docs: dict[Path, list[Any]] = {}
    for path in sorted(HELM_DIR.rglob("*.yaml")):
        docs[path] = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    return docs


def walk(node: Any, path: tuple = ()):
    """(path, key, value) for every mapping entry in a parsed YAML tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield path, key, value
            yield from walk(value, (*path, key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from walk(item, (*path, index))


def helm_images() -> dict[str, set[str]]:
    """repository → tags, from every ``image:`` string and chart ``image: {repository, tag}``."""
    found: dict[str, set[str]] = {}
    for docs in helm_documents().values():
        for doc in docs:
            for _, key, value in walk(doc):
                if key == "image" and isinstance(value, str):
                    repo, tag = split_image(value)
                    found.setdefault(repo, set()).add(tag or "")
                elif key == "image" and isinstance(value, dict) and "repository" in value:
                    repo = value["repository"]
                    if value.get("registry"):
                        repo = f"{value['registry']}/{repo}"
                    found.setdefault(repo, set()).add(str(value.get("tag") or ""))
                elif key == "images" and isinstance(value, dict):
                    for spec in value.values():
                        if isinstance(spec, dict) and "repository" in spec:
                            found.setdefault(spec["repository"], set()).add(str(spec.get("tag") or ""))
    return found
