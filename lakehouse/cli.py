"""``ioc``: the platform's command line (typer + rich)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from lakehouse.settings import get_settings

app = typer.Typer(help="Quảng Ninh IOC lakehouse.", no_args_is_help=True, add_completion=False)
catalog_app = typer.Typer(help="Dataset contracts in catalog/.", no_args_is_help=True)
lake_app = typer.Typer(help="Delta tables under LAKE_ROOT.", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")
quality_app = typer.Typer(help="Great Expectations suites, validations and Data Docs.", no_args_is_help=True)
app.add_typer(lake_app, name="lake")
app.add_typer(quality_app, name="quality")
ml_app = typer.Typer(help="Forecasting (Spark + statsforecast), MLflow and alerts.", no_args_is_help=True)
app.add_typer(ml_app, name="ml")
video_app = typer.Typer(help="Camera video index (Spark + OpenCV): index segments, search what was seen.",
                        no_args_is_help=True)
app.add_typer(video_app, name="video")
public_app = typer.Typer(help="The public, read-only Open311 GeoReport v2 API (and /opendata).", no_args_is_help=True)
app.add_typer(public_app, name="public")
opendata_app = typer.Typer(help="Open data: the public datasets as Parquet + CSV with a DCAT catalogue.",
                           no_args_is_help=True)
app.add_typer(opendata_app, name="opendata")
from lakehouse.superset.cli import app as superset_app

app.add_typer(superset_app, name="superset")
# Piped output (CI logs, `make demo | tee`) gets a width that fits the tables, not 80 columns.
console = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


def _catalog():
    from lakehouse.contracts import CatalogError, load_catalog

    try:
        return load_catalog(get_settings().catalog_dir)
    except CatalogError as exc:
        err.print(f"[bold red]{len(exc.problems)} problem(s) in the catalog:[/]")
        for problem in exc.problems:
            err.print(f"  [red]✗[/] {problem}")
        raise typer.Exit(1) from None


@catalog_app.command("validate")
def catalog_validate(
    root: Annotated[Path | None, typer.Argument(help="Catalog folder (default: settings)")] = None,
) -> None:
    """Check every contract; a broken one is reported by file, field and problem."""
    from lakehouse.contracts import CatalogError, load_catalog

    try:
        catalog = load_catalog(root or get_settings().catalog_dir)
    except CatalogError as exc:
        err.print(f"[bold red]{len(exc.problems)} problem(s):[/]")
        for problem in exc.problems:
            err.print(f"  [red]✗[/] {problem}")
        raise typer.Exit(1) from None
    console.print(f"[green]✓[/] {len(catalog)} contracts, {len(catalog.departments)} departments valid")


@catalog_app.command("list")
def catalog_list() -> None:
    """One line per dataset: owner, source, classification, readers."""
    table = Table("dataset", "owner", "source", "schedule", "class", "readers", title="Contracts")
    for c in sorted(_catalog(), key=lambda c: (c.domain, c.name)):
        table.add_row(c.name, c.owner, f"{c.source.kind.value}:{c.source.system}", c.source.schedule,
                      c.classification.value, ", ".join(g.department for g in c.grants))
    console.print(table)


@catalog_app.command("show")
def catalog_show(name: str) -> None:
    """A contract's columns, key, rules and grants."""
    c = _catalog()[name]
    console.print(f"[bold]{c.name}[/] — {c.title}\n{c.description.strip()}\n")
    console.print(f"owner {c.owner} · {c.classification.value} · key {c.primary_key} · source "
                  f"{c.source.kind.value} {c.source.location} ({c.source.schedule})")
    table = Table("column", "type", "null", "source name", "unit", "pii", "checks")
    for col in c.columns:
        checks = {k: v for k, v in col.checks.model_dump(exclude_defaults=True).items()}
        table.add_row(col.name, col.type, "yes" if col.nullable else "no", col.source_name or "",
                      col.unit or "", col.pii.value if col.pii.value != "none" else "",
                      json.dumps(checks, ensure_ascii=False) if checks else "")
    console.print(table)
    for grant in c.grants:
        console.print(f"  reader [cyan]{grant.department}[/]"
                      + (f" where {grant.row_filter}" if grant.row_filter else "")
                      + (f" unmasked {grant.unmasked}" if grant.unmasked else ""))


@catalog_app.command("generate")
def catalog_generate(check: Annotated[bool, typer.Option(help="Fail if files are stale")] = False) -> None:
    """Regenerate the artefacts derived from the contracts (dbt sources, GX suites)."""
    from lakehouse.codegen import GENERATORS

    catalog, stale = _catalog(), []
    for module in GENERATORS.values():
        wanted = module.outputs(catalog)
        owned = module.owned_dir() if hasattr(module, "owned_dir") else None
        extra = [p for p in owned.glob("*") if p.is_file() and p not in wanted] if owned and owned.exists() else []
        for path, text in wanted.items():
            current = path.read_text(encoding="utf-8") if path.exists() else None
            if current == text:
                continue
            if check:
                stale.append(str(path))
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
                console.print(f"[green]wrote[/] {path}")
        for path in extra:
            if check:
                stale.append(f"{path} (no contract)")
            else:
                path.unlink()
                console.print(f"[yellow]removed[/] {path}")
    if stale:
        err.print(f"[red]stale, run `ioc catalog generate`:[/] {stale}")
        raise typer.Exit(1)


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="Where to write the sources")] = Path("var/sources"),
    scale: Annotated[int, typer.Option(min=1)] = 1,
    seed: int = 42,
    days: int = 14,
) -> None:
    """Write every contracted source in its native form, with defects at known rates."""
    from lakehouse.generate import generate as run

    manifest = run(out, scale=scale, seed=seed, days=days, catalog=_catalog(), progress=True)
    table = Table("dataset", "rows", "defects", "→ bronze", "→ quarantine", title=f"Generated into {out}")
    for row in manifest.summary_rows():
        table.add_row(*(str(v) for v in row))
    console.print(table)
    console.print(f"manifest: {out / 'manifest.json'}")


@app.command()
def ingest(dataset: str) -> None:
    """Land the files waiting in a dataset's landing zone into bronze/quarantine."""
    from lakehouse.ingest.files import ingest_landing

    for r in ingest_landing(_catalog()[dataset]):
        colour = "green" if r.status == "processed" else "red"
        console.print(f"[{colour}]{r.status}[/] {r.file}: {r.bronze_rows} → bronze, "
                      f"{r.quarantined_rows} → quarantine" + (f" ({r.reason})" if r.reason else ""))


@app.command()
def silver(dataset: str) -> None:
    """Gate new bronze batches and upsert them into silver."""
    from lakehouse.pipeline.silver import build_silver

    r = build_silver(_catalog()[dataset])
    console.print(f"{dataset}: {len(r.batches)} batch(es), {r.rows_in} rows, {r.quarantined} quarantined, "
                  f"{r.warnings} warning(s), {r.duplicates_removed} duplicates removed, {r.merged} merged")


@quality_app.command("suite")
def quality_suite(dataset: str) -> None:
    """The expectations a dataset's gate runs, and where each comes from."""
    from lakehouse.quality.expectations import suite_for

    table = Table(title=f"suite {dataset}")
    table.add_column("expectation", no_wrap=True)
    for name in ("severity", "kwargs", "from"):
        table.add_column(name)
    for spec in suite_for(_catalog()[dataset]).expectations:
        kwargs = {k: v for k, v in spec.kwargs.items() if k not in ("column", "column_A", "column_B")}
        table.add_row(spec.rule, spec.severity.value, json.dumps(kwargs, ensure_ascii=False, default=str)[:60],
                      spec.origin)
    console.print(table)


@quality_app.command("results")
def quality_results(
    dataset: Annotated[str | None, typer.Argument(help="Only this dataset")] = None,
    limit: int = 20,
) -> None:
    """The latest validations from ops.quality_results (newest first)."""
    import duckdb

    from lakehouse.lake.duck import lake_connection

    con = lake_connection(get_settings())
    where = "where dataset = ?" if dataset else ""
    try:
        rows = con.execute(
            "select checked_at, dataset, batch_id, expectations_evaluated, expectations_failed, rows_checked, "
            f"rows_quarantined, rows_warned, success from ops.quality_results {where} "
            "order by checked_at desc limit ?", [*([dataset] if dataset else []), limit]).fetchall()
    except duckdb.Error as exc:  # no validation has run yet: DuckDB names the missing table
        err.print(f"[red]no quality results yet[/] ({str(exc).splitlines()[0]})")
        raise typer.Exit(1) from None
    table = Table("checked at", "dataset", "batch", "expectations failed", "rows", "quarantined", "warned", "ok")
    for at, name, batch, evaluated, failed, checked, quarantined, warned, ok in rows:
        table.add_row(f"{at:%Y-%m-%d %H:%M:%S}", name, batch, f"{failed}/{evaluated}", str(checked),
                      str(quarantined), str(warned), "[green]✓[/]" if ok else "[red]✗[/]")
    console.print(table)


@quality_app.command("docs")
def quality_docs() -> None:
    """Rebuild the Data Docs site from every stored validation and print where it is."""
    from lakehouse.quality.checkpoint import build_data_docs

    console.print(f"Data Docs: file://{build_data_docs()}")


@app.command()
def gold() -> None:
    """dbt build over silver, then publish the marts as Delta."""
    from lakehouse.pipeline.gold import build_gold

    r = build_gold()
    for name, rows in r.published.items():
        console.print(f"[green]gold.{name}[/]: {rows} rows")


@ml_app.command("forecast")
def ml_forecast(
    kinds: Annotated[str, typer.Option(help="Comma-separated series kinds (default: all)")] = "",
) -> None:
    """Run the forecasting job (backtest, MLflow run, register, promote, gold.forecasts),
    then rebuild the alert marts and route new alerts."""
    from lakehouse.ml.alerts import route_alerts
    from lakehouse.ml.forecast_job import run_forecast_job
    from lakehouse.pipeline.gold import refresh_forecast_marts

    result = run_forecast_job(kinds=[k for k in kinds.split(",") if k] or None)
    if result is None:
        console.print("[yellow]no gold series to forecast yet[/]")
        return
    console.print(f"run {result.run_id}: {result.series} series, backtest MASE {result.score:.3f}; "
                  f"{result.promotion.reason}; {result.forecasts_written} forecast rows")
    published = refresh_forecast_marts().published
    routed = route_alerts()
    console.print(f"gold.forecast_alerts: {published.get('forecast_alerts', 0)} alerts; sent {len(routed.sent)}, "
                  f"already sent {routed.already_sent}, failed {len(routed.failed)}, no webhook {len(routed.unroutable)}")


@ml_app.command("serve")
def ml_serve(port: Annotated[int, typer.Option(help="Loopback port")] = 5000) -> None:
    """Start the MLflow tracking server over the embedded store (runs in the background)."""
    from lakehouse.ml.server import start_server

    console.print(f"MLflow: {start_server(port=port)}")


@ml_app.command("stop")
def ml_stop() -> None:
    """Stop the MLflow server started by ``ioc ml serve`` / ``make demo``."""
    from lakehouse.ml.server import stop_server

    console.print("stopped" if stop_server() else "no MLflow server was started from here")


@video_app.command("index")
def video_index(
    segment: Annotated[list[str] | None, typer.Option(help="Only this segment id (repeatable)")] = None,
    force: Annotated[bool, typer.Option(help="Re-index segments indexed already")] = False,
) -> None:
    """Index the bronze video segments not indexed yet (Spark), then rebuild the marts that
    read the index (camera_counts_minute, incidents)."""
    from lakehouse.pipeline.gold import refresh_video_marts
    from lakehouse.video.job import run_video_index

    result = run_video_index(segments=segment or None, force=force)
    console.print(f"{result.segments} segments: {result.indexed} indexed, {result.failed} failed; rows {result.rows}")
    for segment_id, error in result.failures.items():
        err.print(f"[red]{segment_id}[/]: {error}")
    if result.indexed:
        console.print(f"marts: {refresh_video_marts().published}")


@video_app.command("search")
def video_search(
    camera: Annotated[list[str] | None, typer.Option(help="Camera id (repeatable; default: all)")] = None,
    start: Annotated[datetime | None, typer.Option("--from", help="From (local time unless an offset is given)")] = None,
    end: Annotated[datetime | None, typer.Option("--to", help="Until (exclusive)")] = None,
    object_class: Annotated[str, typer.Option("--class", help="person or vehicle")] = "person",
    min_count: Annotated[int, typer.Option(help="At least this many at once")] = 1,
    event: Annotated[str | None, typer.Option(help="Search events instead: crowd, stopped_vehicle, blackout, tampering")] = None,
    limit: Annotated[int, typer.Option(help="Rows to show")] = 100,
    show_sql: Annotated[bool, typer.Option("--sql", help="Print the SQL (to run it from any client)")] = False,
) -> None:
    """What the cameras saw: camera-minutes with at least N people/vehicles at once, or events."""
    import duckdb

    from lakehouse.settings import get_settings
    from lakehouse.video.search import VideoQuery, events_sql, minutes_sql, search

    query = VideoQuery(tuple(camera or ()), start, end, object_class, min_count, event, limit)
    try:
        if show_sql:
            sql, params = (events_sql if event else minutes_sql)(query, get_settings().timezone)
            console.print(sql, params)
        names, rows = search(query)
    except (ValueError, duckdb.Error) as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    table = Table(*names, title=f"{len(rows)} results")
    for row in rows:
        table.add_row(*("∅" if v is None else str(v) for v in row))
    console.print(table)


@app.command()
def status(
    record: Annotated[bool, typer.Option(help="Also append this freshness check to ops.freshness_checks")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per dataset, no table")] = False,
) -> None:
    """Every contracted dataset: tiers' rows, last delivery, freshness against its SLA, quality."""
    from datetime import UTC, datetime

    from lakehouse.status import dataset_status

    catalog, now = _catalog(), datetime.now(UTC)
    rows = dataset_status(catalog, now=now)
    if record:
        from lakehouse.quality.freshness import CHECKS_TABLE, record_freshness

        checks = record_freshness(catalog, now=now)
        # Stderr, so `--json --record` still prints parseable JSON on stdout.
        err.print(f"recorded {len(checks)} checks in ops.{CHECKS_TABLE} "
                  f"({sum(c.breach for c in checks)} breaches)")
    if as_json:
        typer.echo(json.dumps([s.as_dict() for s in rows], ensure_ascii=False, indent=2))
        return
    colours = {"fresh": "green", "warn": "yellow", "error": "red", "never": "red", "no_sla": "dim"}
    table = Table("dataset", "source", "bronze", "quarantine", "silver", "last delivery",
                  "ingested (UTC)", "SLA", "freshness", "quality", title="Lake status")
    for s in rows:
        quality = "–"
        if s.quality_pass_rate is not None:
            colour = "green" if s.last_validation_success else "yellow"
            quality = f"[{colour}]{s.quality_pass_rate:.1%}[/]"
        table.add_row(s.dataset, s.source, "–" if s.bronze_rows is None else str(s.bronze_rows),
                      str(s.quarantined_rows), "–" if s.silver_rows is None else str(s.silver_rows),
                      s.last_source or "–",
                      s.last_ingested_at.strftime("%Y-%m-%d %H:%M:%S") if s.last_ingested_at else "–",
                      s.sla or "–", f"[{colours[s.freshness]}]{s.freshness}[/]", quality)
    console.print(table)


@lake_app.command("tables")
def lake_tables() -> None:
    """Every Delta table with its version and row count."""
    from deltalake import DeltaTable

    from lakehouse.lake import list_tables, storage_options

    table = Table("table", "version", "rows", "files", "path", title=f"Lake at {get_settings().lake_root}")
    for tier, name, uri in list_tables():
        dt = DeltaTable(uri, storage_options=storage_options())
        rows = dt.count()
        table.add_row(f"{tier.value}.{name}", str(dt.version()), str(rows), str(len(dt.file_uris())), uri)
    console.print(table)


@lake_app.command("history")
def lake_history(table_name: Annotated[str, typer.Argument(metavar="TIER.TABLE")]) -> None:
    """A table's commits: version, time, operation, batch."""
    from lakehouse.lake import history, storage_options, table_uri

    tier, _, name = table_name.partition(".")
    table = Table("version", "timestamp", "operation", "batch", "metrics", title=table_name)
    for entry in history(table_uri(tier, name), storage_options()):
        metrics = entry.get("operationMetrics", {}) or {}
        table.add_row(str(entry.get("version")), str(entry.get("timestamp")), str(entry.get("operation")),
                      str(entry.get("ioc.batch_id", "")),
                      ", ".join(f"{k}={v}" for k, v in metrics.items() if k.startswith("num"))[:80])
    console.print(table)


@lake_app.command("maintain")
def lake_maintain(
    tier: Annotated[list[str] | None, typer.Option(help="Only these tiers (repeatable)")] = None,
    min_files: Annotated[int, typer.Option(help="Compact tables with at least this many files")] = 16,
    retention_hours: Annotated[int, typer.Option(help="Time travel kept by vacuum")] = 168,
) -> None:
    """Compact small files, checkpoint logs and vacuum old files (what DAG lake_maintenance runs daily)."""
    from lakehouse.lake.maintenance import MaintenancePolicy, label, maintain_lake

    policy = MaintenancePolicy(min_files=min_files, vacuum_retention_hours=retention_hours)
    results = maintain_lake(policy=policy, tiers=tier, progress=True)
    table = Table("table", "files before", "files after", "vacuumed", "seconds", title="Lake maintenance")
    for r in results:
        if r.compacted or r.files_vacuumed:
            table.add_row(label(r.uri), str(r.files_before),
                          str(r.files_after), str(r.files_vacuumed), f"{r.seconds:.2f}")
    console.print(table)
    console.print(f"{len(results)} tables: {sum(r.compacted for r in results)} compacted, "
                  f"{sum(r.files_before for r in results)} → {sum(r.files_after for r in results)} files, "
                  f"{sum(r.files_vacuumed for r in results)} vacuumed")


@app.command()
def sql(query: str, limit: Annotated[int, typer.Option(help="Rows to show")] = 50) -> None:
    """Run SQL on DuckDB over the lake: tables are <tier>.<name> (bronze, silver, gold, ...)."""
    import duckdb

    from lakehouse.lake.duck import lake_connection

    con = lake_connection()
    try:
        result = con.execute(query)
        names = [d[0] for d in result.description]
        rows = result.fetchmany(limit)
    except duckdb.Error as exc:  # DuckDB's message already names the table/column at fault
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    table = Table(*names)
    for row in rows:
        table.add_row(*("∅" if v is None else str(v) for v in row))
    console.print(table)


@app.command("serve-sql")
def serve_sql(
    host: Annotated[str | None, typer.Option(help="Bind address (default IOC_SQL_GATEWAY_HOST, loopback)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default IOC_SQL_GATEWAY_PORT, 8080)")] = None,
    password_file: Annotated[Path | None, typer.Option(help="Trino password file (user:bcrypt)")] = None,
) -> None:
    """Serve the lake with Trino's protocol and rules.json: trino CLI, JDBC/DBeaver, Superset, dbt-trino."""
    from lakehouse.gateway.command import serve_sql as run

    try:
        run(console, host=host, port=port, password_file=password_file)
    except (ValueError, OSError) as exc:  # refused bind, broken rules file, port in use
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None


@public_app.command("serve")
def public_serve(foreground: Annotated[bool, typer.Option(help="Run in this terminal (Ctrl-C stops)")] = False) -> None:
    """Start the public API on IOC_PUBLIC_API_HOST:PORT (in the background unless --foreground)."""
    if foreground:
        from lakehouse.publicapi.__main__ import main

        main([])
        return
    from lakehouse.publicapi import start_server

    url = start_server()
    console.print(f"Open311: {url}/requests.json · {url}/services.json · schema {url}/openapi.json · "
                  f"open data {url}/opendata/catalog.json")


@public_app.command("stop")
def public_stop() -> None:
    """Stop the public API started by ``ioc public serve`` / ``make demo``."""
    from lakehouse.publicapi import stop_server

    console.print("stopped" if stop_server() else "no public API was started from here")


@opendata_app.command("export")
def opendata_export() -> None:
    """Export every public table (Parquet + CSV) and write the DCAT catalogue."""
    from lakehouse.opendata import export_open_data

    result = export_open_data()
    console.print(f"{len(result.datasets)} public datasets in {result.folder}: {', '.join(result.datasets)}")
    console.print(f"written {len(result.written)}, unchanged {len(result.unchanged)}, removed {len(result.removed)}"
                  + (f"; not in the lake yet: {', '.join(result.waiting)}" if result.waiting else ""))


@app.command()
def demo(
    scale: Annotated[int, typer.Option(min=1)] = 1,
    seed: int = 42,
    fresh: Annotated[bool, typer.Option(help="Start from an empty lake")] = True,
) -> None:
    """Generate the province's sources and run the slice under Airflow, file → gold."""
    from lakehouse.demo import run_demo

    logging.basicConfig(level=logging.WARNING)
    run_demo(scale=scale, seed=seed, fresh=fresh, console=console)


@app.command()
def stop() -> None:
    """Stop every service ``make demo`` left running (Airflow UI, MLflow, Superset, SQL, Open311)."""
    from lakehouse.demo import stop_services

    stopped = stop_services(get_settings())
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


if __name__ == "__main__":
    app()
