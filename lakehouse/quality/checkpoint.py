"""Running a dataset's suite on one bronze batch with Great Expectations 1.x.

The GX project (a file Data Context under ``settings.gx_root``) holds, per dataset:
pandas data source ``lake`` → dataframe asset ``<dataset>`` → batch definition
``bronze_batch``; suite ``<dataset>``; validation definition and checkpoint
``<dataset>.gate``. They are (re)built from the contract on every run, so the YAML stays the
only place a rule is written. Validation results are stored by the checkpoint and rendered as
Data Docs (:func:`build_data_docs`).

Results are requested in COMPLETE format for the *row indices* of failures (that is how
exactly the failing rows reach quarantine) but without the failing *values*: personal data
never lands in GX's stores or in Data Docs.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from filelock import FileLock

from lakehouse.contracts import Contract, Severity
from lakehouse.quality.expectations import ExpectationSpec, suite_for
from lakehouse.settings import Settings, get_settings

log = logging.getLogger(__name__)
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # nothing may call home

DATA_SOURCE = "lake"
BATCH_DEFINITION = "bronze_batch"
RESULT_FORMAT = {"result_format": "COMPLETE", "exclude_unexpected_values": True,
                 "partial_unexpected_count": 0, "return_unexpected_index_query": False}


@dataclass(frozen=True)
class Outcome:
    """One expectation's verdict on one batch."""

    spec: ExpectationSpec
    success: bool
    element_count: int
    unexpected_count: int
    failed_rows: list[int]  # positions in the batch; empty for table-level expectations
    error: str | None = None  # the expectation could not run (e.g. a column is missing)

    @property
    def row_level(self) -> bool:
        return self.spec.target != "table" and not self.spec.type.endswith("_in_type_list")


@dataclass(frozen=True)
class Validation:
    dataset: str
    batch_id: str
    run_id: str
    success: bool
    outcomes: list[Outcome]


def gx_root(settings: Settings) -> Path:
    return Path(settings.gx_root)


#: (GX root, dataset) → (fingerprint of the suite, checkpoint). Saving the suite, validation
#: definition and checkpoint to the file store costs ~0.2 s a batch, so a process does it
#: once per dataset, and again only when the suite changes.
_PREPARED: dict[tuple[Path, str], tuple[str, object]] = {}
#: GX runs a checkpoint against the process's *current* project (the last context opened).
_CURRENT_ROOT: list[Path | None] = [None]


@contextmanager
def gx_context(settings: Settings | None = None):
    """The file Data Context, freshly read and held under a lock: parallel Airflow tasks
    share its configuration and stores, so nobody writes a stale copy back."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    root = gx_root(settings or get_settings())
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / ".gx.lock"), timeout=600):
        context = gx.get_context(mode="file", project_root_dir=str(root))
        _CURRENT_ROOT[0] = root
        if context.variables.progress_bars is None:
            context.variables.progress_bars = ProgressBarsConfig(globally=False)
            context.variables.save()
        yield context


def resolve_references(spec: ExpectationSpec, settings: Settings) -> ExpectationSpec | None:
    """Turn ``{"$references": "camera_registry.camera_id"}`` into the values known now.

    Administrative units come from the shipped reference; registries from their silver table.
    A registry not built yet means the check cannot run: it is skipped (and logged), not failed.
    """
    target = spec.references
    if target is None:
        return spec
    dataset, _, column = target.partition(".")
    if dataset == "admin_units":
        from lakehouse.reference import admin_units

        values = admin_units()[column].unique().to_list()
    else:
        from lakehouse.lake.paths import Tier, open_table

        table = open_table(Tier.silver, dataset, settings)
        if table is None:
            log.warning("%s: silver.%s does not exist yet, skipping the reference check", spec.rule, dataset)
            return None
        values = pl.from_arrow(table.to_pyarrow_table(columns=[column]))[column].unique().to_list()
    kwargs = {**spec.kwargs, "value_set": sorted(v for v in values if v is not None)}
    return ExpectationSpec(spec.type, kwargs, spec.severity, spec.origin, f"values of {target}")


def _build(context, contract: Contract, specs: list[ExpectationSpec]):
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    source = context.data_sources.add_or_update_pandas(DATA_SOURCE)
    asset = next((a for a in source.assets if a.name == contract.name), None) or source.add_dataframe_asset(
        contract.name)
    batch = next((b for b in asset.batch_definitions if b.name == BATCH_DEFINITION), None) or \
        asset.add_batch_definition_whole_dataframe(BATCH_DEFINITION)
    suite = gx.ExpectationSuite(name=contract.name, meta={"contract": f"catalog/datasets/{contract.name}.yaml",
                                                          "owner": contract.owner})
    for spec in specs:
        suite.add_expectation_configuration(ExpectationConfiguration(
            type=spec.type, kwargs=spec.kwargs,
            meta={"severity": spec.severity.value, "origin": spec.origin, "rule": spec.rule}))
    suite = context.suites.add_or_update(suite)
    name = f"{contract.name}.gate"
    definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=name, data=batch, suite=suite))
    return context.checkpoints.add_or_update(
        gx.Checkpoint(name=name, validation_definitions=[definition], actions=[], result_format=RESULT_FORMAT))


def validate(frame: pl.DataFrame, contract: Contract, *, batch_id: str,
             settings: Settings | None = None) -> Validation:
    """Run the dataset's checkpoint on ``frame`` (one bronze batch); row positions are 0-based."""
    settings = settings or get_settings()
    specs = [s for s in (resolve_references(s, settings) for s in suite_for(contract).expectations) if s is not None]
    pandas = to_pandas(frame)
    fingerprint = json.dumps([s.to_json() for s in specs], sort_keys=True, default=str)
    root = gx_root(settings)
    key = (root, contract.name)
    cached = _PREPARED.get(key)
    if (cached is None or cached[0] != fingerprint or _CURRENT_ROOT[0] != root
            or not (root / "gx" / "great_expectations.yml").exists()):
        with gx_context(settings) as context:
            _PREPARED[key] = (fingerprint, _build(context, contract, specs))
    checkpoint = _PREPARED[key][1]
    with FileLock(str(root / ".gx.lock"), timeout=600), warnings.catch_warnings():
        # GX matches regexes with pandas' str.contains, which warns about capture groups in
        # patterns such as ^(\+84|0)…: harmless, and noise in every task log.
        warnings.filterwarnings("ignore", message="This pattern is interpreted as a regular expression")
        result = checkpoint.run(batch_parameters={"dataframe": pandas},
                                run_id=_run_id(contract.name, batch_id))
    (run,) = result.run_results.values()
    outcomes = []
    for item in run.results:
        meta = item.expectation_config.meta or {}
        spec = _spec_of(item, specs)
        raised = (item.exception_info or {}).get("raised_exception")
        res = item.result or {}
        outcomes.append(Outcome(
            spec=spec,
            success=bool(item.success),
            element_count=int(res.get("element_count", frame.height) or 0),
            unexpected_count=int(res.get("unexpected_count", 0) or 0),
            failed_rows=[int(i) for i in res.get("unexpected_index_list") or []],
            error=(item.exception_info or {}).get("exception_message") if raised else None,
        ))
        if raised:
            log.error("%s on %s could not run: %s", meta.get("rule"), contract.name, outcomes[-1].error)
    return Validation(contract.name, batch_id, f"{contract.name}:{batch_id}", bool(result.success), outcomes)


def to_pandas(frame: pl.DataFrame):
    """The batch as GX's pandas engine takes it. Zone-aware timestamps go over as naive UTC:
    GX's type check cannot name a zone-aware dtype, and every lake timestamp is UTC."""
    aware = [n for n, t in frame.schema.items() if isinstance(t, pl.Datetime) and t.time_zone]
    # GX vectorises range checks on int64/float64 only; an int32 column costs a call per row.
    narrow = [n for n, t in frame.schema.items() if t in (pl.Int8, pl.Int16, pl.Int32, pl.UInt8, pl.UInt16)]
    return frame.with_columns(pl.col(aware).dt.convert_time_zone("UTC").dt.replace_time_zone(None),
                              pl.col(narrow).cast(pl.Int64)).to_pandas()


def _spec_of(item, specs: list[ExpectationSpec]) -> ExpectationSpec:
    config = item.expectation_config
    for spec in specs:
        if spec.type == config.type and all(config.kwargs.get(k) == v for k, v in spec.kwargs.items()):
            return spec
    meta = config.meta or {}
    return ExpectationSpec(config.type, dict(config.kwargs), Severity(meta.get("severity", "warn")),
                           meta.get("origin", "?"))


def _run_id(dataset: str, batch_id: str):
    from great_expectations.core.run_identifier import RunIdentifier

    return RunIdentifier(run_name=f"{dataset}:{batch_id}")


def build_data_docs(settings: Settings | None = None) -> Path:
    """Render every stored validation as static HTML; returns the site's index.html."""
    settings = settings or get_settings()
    with gx_context(settings) as context:
        context.build_data_docs()
    return data_docs_index(settings)


def data_docs_index(settings: Settings | None = None) -> Path:
    settings = settings or get_settings()
    return gx_root(settings) / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
