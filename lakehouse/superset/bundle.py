"""The dashboards as code: the unzipped Superset asset bundle under ``infra/superset/assets``.

The bundle is what Superset itself exports (``metadata.yaml``, ``databases/``, ``datasets/``,
``charts/``, ``dashboards/``, linked by UUID), with the few values that differ between
installations written as ``${NAME}`` (the lake database's URI and engine parameters, the
time zone, the base map). :func:`render_bundle` fills them from ``environments.yaml`` and the
platform's settings into a folder Superset imports; :func:`write_back` takes a Superset export
and writes it into the bundle with the ``${NAME}`` put back, so a dashboard edited in the UI
becomes a reviewable diff with one command (``ioc superset export``).
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from lakehouse.superset.env import BUNDLE_DIR, ENVIRONMENTS_FILE, SupersetEnv

PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")
KINDS = ("databases", "datasets", "charts", "dashboards")
_EXPORT_ID_SUFFIX = re.compile(r"_\d+$")


def variables(env: SupersetEnv, environments_file: Path = ENVIRONMENTS_FILE) -> dict[str, str]:
    """``${NAME}`` → text, for the configured engine: ``environments.yaml``'s block with its
    ``{setting}`` placeholders filled. Structured values are written as JSON (valid YAML)."""
    blocks = yaml.safe_load(environments_file.read_text(encoding="utf-8"))
    facts = {"timezone": env.settings.timezone, "base_map": env.base_maps[0][0],
             "serving_db": str(env.serving_db), "trino_uri": env.settings.superset_trino_uri}
    if env.engine == "duckdb":
        facts["duckdb_extension_directory"] = env.duckdb_extension_directory()

    def fill(value):
        if isinstance(value, str):
            return value.format(**facts)
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        return value

    chosen = {**blocks.get("common", {}), **blocks[env.engine]}
    return {name: value if isinstance(value, str) else json.dumps(value)
            for name, value in ((n, fill(v)) for n, v in chosen.items())}


def render_text(text: str, values: dict[str, str], where: str = "") -> str:
    def substitute(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(f"{where}: ${{{name}}} is not defined in {ENVIRONMENTS_FILE.name}")
        return values[name]

    return PLACEHOLDER.sub(substitute, text)


def bundle_files(bundle: Path = BUNDLE_DIR) -> dict[str, str]:
    """Every YAML file of the bundle, by its path inside it."""
    return {str(p.relative_to(bundle)): p.read_text(encoding="utf-8") for p in sorted(bundle.rglob("*.yaml"))}


def render_bundle(env: SupersetEnv, target: Path | None = None, bundle: Path = BUNDLE_DIR) -> Path:
    """Write the bundle with every ``${NAME}`` filled into ``target`` (replaced); return it."""
    target = target or env.rendered_bundle
    values = variables(env)
    shutil.rmtree(target, ignore_errors=True)
    for name, text in bundle_files(bundle).items():
        out = target / name
        out.parent.mkdir(parents=True, exist_ok=True)
        rendered = render_text(text, values, name)
        yaml.safe_load(rendered)  # a value that breaks YAML fails here, naming the file
        out.write_text(rendered, encoding="utf-8")
    return target


@dataclass
class WriteBack:
    """What :func:`write_back` did to the bundle."""

    written: list[str] = field(default_factory=list)  # changed or new files
    unchanged: int = 0
    kept_templated: list[str] = field(default_factory=list)  # databases: the bundle's ${NAME} form kept
    missing: list[str] = field(default_factory=list)  # in the bundle, not in Superset (deleted there?)
    removed: list[str] = field(default_factory=list)  # ... and removed, with prune=True


# Chart params that hold ids of one installation: the importer sets them again from UUIDs.
_VOLATILE_CHART_PARAMS = ("slice_id", "datasource", "dashboards")
_CHART_ID_KEYS = ("id", "chartId")
_CHART_ID_LISTS = ("chartsInScope", "excluded", "timed_refresh_immune_slices")
# Dashboard metadata the front end derives and saves when someone first opens a dashboard
# (label colours it assigned): state, not design.
_DERIVED_DASHBOARD_METADATA = ("color_scheme_domain", "shared_label_colors", "map_label_colors")


def _renumber_charts(dashboard: dict) -> None:
    """Replace the exporting installation's chart ids in a dashboard by 1..n in chart UUID
    order. The importer maps them to its own ids through ``position`` (id ↔ UUID), so any
    consistent numbering imports the same; a stable one keeps diffs to real changes."""
    charts = [v["meta"] for v in dashboard.get("position", {}).values()
              if isinstance(v, dict) and v.get("type") == "CHART" and "chartId" in v.get("meta", {})]
    ids = {meta["chartId"]: n for n, meta in enumerate(sorted(charts, key=lambda m: m["uuid"]), start=1)}

    def walk(value, key=None):
        if isinstance(value, dict):
            return {(str(ids[int(k)]) if isinstance(k, str) and k.isdigit() and int(k) in ids else k): walk(v, k)
                    for k, v in value.items()}
        if isinstance(value, list):
            if key in _CHART_ID_LISTS:
                return [ids.get(v, v) if isinstance(v, int) else v for v in value]
            return [walk(v) for v in value]
        if key in _CHART_ID_KEYS and isinstance(value, int):
            return ids.get(value, value)
        return value

    dashboard["position"] = walk(dashboard.get("position", {}))
    dashboard["metadata"] = walk(dashboard.get("metadata", {}))


def normalise_export(name: str, text: str) -> str:
    """Drop what only makes sense in the installation that exported: chart ids in chart
    params, the saved query context (its ids; dashboards render from the params), the layer
    ids of multi-layer maps (``deck_slice_uuids`` names the layers); number a dashboard's
    charts 1..n by UUID and drop the label colours the front end saves on first view. Every file is written
    with Unicode as is (Superset escapes it), so Vietnamese names stay readable in diffs."""
    data = yaml.safe_load(text)
    if name.startswith("charts/"):
        params = data.get("params") or {}
        for key in _VOLATILE_CHART_PARAMS:
            params.pop(key, None)
        if "deck_slice_uuids" in params:
            params["deck_slices"] = []
        data["query_context"] = None
    if name.startswith("dashboards/"):
        _renumber_charts(data)
        for key in _DERIVED_DASHBOARD_METADATA:
            (data.get("metadata") or {}).pop(key, None)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _uuid(text: str) -> str | None:
    data = yaml.safe_load(text) or {}
    return str(data["uuid"]) if isinstance(data, dict) and data.get("uuid") else None


def write_back(exported: Path, env: SupersetEnv, bundle: Path = BUNDLE_DIR, *, prune: bool = False) -> WriteBack:
    """Write a Superset export (unzipped) into the bundle.

    Files are matched to the bundle by UUID and keep their bundle path (exports add volatile
    ``_<id>`` suffixes); charts lose their installation's ids (:func:`normalise_export`); values of ``${NAME}`` the bundle file used are templated again; new
    files are templated for every variable. Database files keep the bundle's templated form
    (their URI and engine parameters are per installation). Assets the bundle has and the
    export lacks are listed, and removed only with ``prune``.
    """
    values = variables(env)
    current = bundle_files(bundle)
    by_uuid = {_uuid(text): name for name, text in current.items() if name != "metadata.yaml"}
    result = WriteBack()
    seen: set[str] = set()
    for path in sorted(exported.rglob("*.yaml")):
        name = str(path.relative_to(exported))
        text = normalise_export(name, path.read_text(encoding="utf-8"))
        if name == "metadata.yaml":
            continue  # the bundle's own (its timestamp would change on every export)
        uuid = _uuid(text)
        target_name = by_uuid.get(uuid)
        if target_name is None:  # new in Superset: a stable name without the export's id
            stem = _EXPORT_ID_SUFFIX.sub("", Path(name).stem)
            target_name = str(Path(name).with_name(f"{stem}.yaml"))
        seen.add(target_name)
        if name.startswith("databases/") and target_name in current:
            result.kept_templated.append(target_name)
            continue
        used = set(PLACEHOLDER.findall(current.get(target_name, ""))) if target_name in current else set(values)
        for variable in sorted(used, key=lambda v: -len(values.get(v, ""))):
            value = values.get(variable, "")
            if len(value) >= 3:
                text = text.replace(value, f"${{{variable}}}")
        if current.get(target_name) == text:
            result.unchanged += 1
            continue
        out = bundle / target_name
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        result.written.append(target_name)
    for name in sorted(set(current) - seen - {"metadata.yaml"}):
        result.missing.append(name)
        if prune:
            (bundle / name).unlink()
            result.removed.append(name)
    return result


__all__ = ["KINDS", "PLACEHOLDER", "WriteBack", "bundle_files", "normalise_export", "render_bundle", "render_text",
           "variables", "write_back"]
