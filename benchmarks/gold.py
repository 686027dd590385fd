"""Benchmark the daily incremental gold run (``build_gold``) against the history in the lake.

    python benchmarks/gold.py [--histories|--days 30 365] [--stations 20] [--new-days 3] [--batch-days 30]
                              [--full-repeat 2] [--keep] [--verbose]

1. Builds one small lake with no service: ``admin_units`` through the generator, the landing
   zone and ``build_silver``; ``hydro_stations`` (``--stations`` stations TV01.., each in a
   unit of ``lakehouse.reference`` valid over the whole period, with alarm levels I/II/III)
   landed in bronze as typed rows, then ``build_silver``.
2. Copies it once per ``--histories`` entry and lands that many days of hourly
   ``water_levels`` readings for every station (local days, Asia/Ho_Chi_Minh) as bronze
   batches of ``--batch-days`` days, each stamped as arriving the morning after its last day;
   the last two history days arrive as daily batches, so the model's 48 h late-data window
   holds the same three days in every measured run. Then ``build_silver`` and a first
   ``build_gold`` (a full build: the marts do not exist yet).
3. For each of ``--new-days`` days, lake after lake (interleaved, so load on the box hits both
   alike): lands the day's readings as one batch, times ``build_silver`` (not part of the gold
   figure), then times ``build_gold``: the real daily job, every mart whose silver sources
   exist (dbt ``build`` of models, tests and seeds, then ``publish_gold``). Its dbt and
   publish parts are measured by wrapping ``run_dbt``, ``publish_gold``, ``delta.merge`` and
   ``delta.replace`` in this process only (no library code is changed); dbt's own
   ``run_results.json`` splits the dbt subprocess into node execution and the rest (start-up:
   Python imports, project parse, connection; artifacts at the end).
4. Times, per lake, ``dbt build --select water_levels`` when nothing new arrived (dbt's fixed
   cost around one incremental model and its tests) and a full refresh: ``dbt build
   --full-refresh --select +water_levels`` plus ``delta.replace`` of the whole gold table
   (partitioned by ``observed_date``).

Prints the setup, each run, a summary table (history days, silver rows, incremental gold
best/median, full refresh) with the ratio incremental(longest)/incremental(shortest) and
PASS/FAIL against 1.3, and where the incremental run's time goes. Checks that every
incremental run published exactly one day of readings to ``gold.water_levels`` and that the
gold table holds every silver reading (exit 1 otherwise).
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pyarrow as pa
from deltalake import DeltaTable
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

console = Console()
SALT = "benchmark-salt-not-a-secret"
LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
TARGET_RATIO = 1.3
LATE_WINDOW_DAYS = 2  # dbt var late_data_window_hours (48) in days: the last history days land daily
INCREMENTAL_ONLY = ["build", "--select", "water_levels", "--indirect-selection", "cautious"]
FULL_REFRESH = ["build", "--full-refresh", "--select", "+water_levels", "--indirect-selection", "cautious"]


def lake_environment(work: Path) -> None:
    """Point every path setting at ``work`` before any Settings object exists."""
    os.environ.update({
        "IOC_LAKE_ROOT": str(work / "base" / "lake"),
        "IOC_LANDING_ROOT": str(work / "base" / "landing"),
        "IOC_WAREHOUSE_PATH": str(work / "base" / "warehouse" / "ioc.duckdb"),
        "IOC_GX_ROOT": str(work / "gx"),
        "IOC_PII_SALT": SALT,
        "IOC_MQTT_URL": "",
    })
    from lakehouse.settings import reset_settings_cache

    reset_settings_cache()


# --------------------------------------------------------------------------- timing hooks


@dataclass
class Watch:
    """Seconds per wrapped function during one ``build_gold``, and dbt's run results."""

    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    dbt_runs: list = field(default_factory=list)  # DbtRun
    dbt_walls: list[float] = field(default_factory=list)


@contextmanager
def instrument(watch: Watch) -> Iterator[None]:
    """Wrap, in this process only, what ``build_gold`` calls: ``run_dbt``, ``publish_gold`` and,
    inside the publish, ``delta.merge`` / ``delta.replace``."""
    from lakehouse.lake import delta
    from lakehouse.pipeline import gold

    originals = {(gold, "run_dbt"): gold.run_dbt, (gold, "publish_gold"): gold.publish_gold,
                 (delta, "merge"): delta.merge, (delta, "replace"): delta.replace}

    def timed(name: str, function: Callable) -> Callable:
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                result = function(*args, **kwargs)
            finally:
                seconds = time.perf_counter() - start
                watch.seconds[name] += seconds
            if name == "dbt":
                watch.dbt_runs.append(result)
                watch.dbt_walls.append(seconds)
            return result
        return wrapper

    gold.run_dbt = timed("dbt", gold.run_dbt)
    gold.publish_gold = timed("publish", gold.publish_gold)
    delta.merge = timed("publish: delta.merge", delta.merge)
    delta.replace = timed("publish: delta.replace", delta.replace)
    try:
        yield
    finally:
        for (owner, name), function in originals.items():
            setattr(owner, name, function)


def node_kind(uid: str) -> str:
    """model / test / seed, with water_levels' own model and tests, and the tests on the two
    views over silver ``water_levels`` (staging, and the alarm incidents), apart."""
    kind = uid.split(".")[0]
    if uid.endswith(".water_levels"):
        return "water_levels model"
    if kind == "test" and "stg_hydromet__water_levels" in uid:
        return "stg_hydromet__water_levels tests"
    if kind == "test" and "int_incidents__water_level_alarms" in uid:
        return "int_incidents__water_level_alarms tests"
    if kind == "test" and "water_levels" in uid:
        return "water_levels tests"
    return kind


def node_split(run, wall: float) -> dict[str, float]:
    """dbt's wall time split with its ``run_results.json``: the span from the first node's
    start to the last node's end (threads: 2, so nodes overlap), the rest is dbt's start-up
    and shut-down; plus summed execution per kind of node."""
    starts, ends = [], []
    out: dict[str, float] = defaultdict(float)
    for result in run.results:
        for step in result.get("timing", []):
            if step.get("started_at") and step.get("completed_at"):
                starts.append(datetime.fromisoformat(step["started_at"]))
                ends.append(datetime.fromisoformat(step["completed_at"]))
        kind = node_kind(result["unique_id"])
        out[f"{kind} (sum)"] += result.get("execution_time") or 0.0
        out[f"{kind} (nodes)"] += 1
    span = (max(ends) - min(starts)).total_seconds() if starts else 0.0
    out["node span"] = span
    out["start-up + shut-down"] = wall - span
    return out


# --------------------------------------------------------------------------- the lake


def stations(count: int, period: tuple[date, date]) -> list[dict]:
    """``count`` stations in units valid over the whole ``period`` (round robin)."""
    from lakehouse.reference import units_valid_on

    first, last = period
    units = units_valid_on(first).join(units_valid_on(last).select("unit_code"), on="unit_code")
    if units.is_empty():
        units = units_valid_on(last)
    rows = units.sort("unit_code").to_dicts()
    out = []
    for n in range(count):
        unit = rows[n % len(rows)]
        alarm_1 = 250 + 10 * (n % 10)
        out.append({
            "station_code": f"TV{n + 1:02d}", "station_name": f"Trạm {unit['name_vi']} {n + 1}",
            "river": f"Sông {n % 7 + 1}", "unit_code": unit["unit_code"],
            "lon": round(unit["centroid_lon"] + 0.001 * (n // len(rows)), 4), "lat": unit["centroid_lat"],
            "alarm_1_cm": alarm_1, "alarm_2_cm": alarm_1 + 50, "alarm_3_cm": alarm_1 + 110,
        })
    return out


def readings(contract, codes: list[str], first: date, days: int, seed: int) -> pl.DataFrame:
    """Hourly readings of every station for ``days`` local days from ``first``: a seasonal
    wave, a daily tide and noise, crossing the alarm levels now and then."""
    start = datetime(first.year, first.month, first.day, tzinfo=LOCAL).astimezone(UTC)
    hours = days * 24
    rng = np.random.default_rng([seed, first.toordinal(), days])
    times = np.array([start + timedelta(hours=h) for h in range(hours)], dtype="datetime64[us]")
    t = (np.arange(hours) + 24 * (first.toordinal() % 365)).astype(float)
    n = len(codes)
    level = (220 + 80 * np.sin(2 * np.pi * t / (24 * 365)) + 25 * np.sin(2 * np.pi * t / 12.4))[None, :] \
        + 10 * np.arange(n)[:, None] % 60 + rng.normal(0, 8, (n, hours))
    rain = np.clip(rng.gamma(0.3, 4.0, (n, hours)) - 0.5, 0, None)
    columns = {
        "station_code": np.repeat(np.array(codes, dtype=object), hours),
        "observed_at": pa.array(np.tile(times, n), type=pa.timestamp("us", tz="UTC")),
        "water_level_cm": np.round(level.ravel(), 1),
        "rainfall_mm": np.round(rain.ravel(), 1),
    }
    from lakehouse.lake.schema import contract_schema

    schema = contract_schema(contract, lineage=False)
    return pl.from_arrow(pa.table({k: columns[k] for k in schema.names}).cast(schema))


def land_rows(contract, settings, batch_id: str, frame: pl.DataFrame, arrived: datetime) -> None:
    from lakehouse.ingest.bronze import land

    rejects = pl.DataFrame(schema={"_row_number": pl.Int64, "_rule": pl.String, "_reason": pl.String,
                                   "_raw": pl.String})
    land(contract, frame, rejects, batch_id=batch_id, source="benchmark", settings=settings, ingested_at=arrived)


def arrival(day: date) -> datetime:
    """A day's readings arrive at 01:00 local the next morning."""
    following = day + timedelta(days=1)
    return datetime(following.year, following.month, following.day, 1, tzinfo=LOCAL).astimezone(UTC)


def base_lake(work: Path, catalog, settings, args, period: tuple[date, date]) -> dict[str, float]:
    from lakehouse.demo import deliver
    from lakehouse.generate import generate
    from lakehouse.ingest.files import ingest_landing
    from lakehouse.lake.schema import contract_schema
    from lakehouse.pipeline.silver import build_silver

    timings = {}
    start = time.perf_counter()
    generate(work / "sources", seed=args.seed, datasets=["admin_units"])
    deliver(work / "sources", settings.landing_root)
    ingest_landing(catalog["admin_units"], settings)
    build_silver(catalog["admin_units"], settings)
    registry = stations(args.stations, period)
    schema = contract_schema(catalog["hydro_stations"], lineage=False)
    frame = pl.from_arrow(pa.Table.from_pylist(registry, schema=schema))
    land_rows(catalog["hydro_stations"], settings, "stations", frame, datetime.now(UTC))
    build_silver(catalog["hydro_stations"], settings)
    timings["admin_units + hydro_stations -> silver"] = time.perf_counter() - start
    return timings


@dataclass
class Lake:
    days: int
    settings: object
    first: date
    setup: dict[str, float] = field(default_factory=dict)
    silver_s: list[float] = field(default_factory=list)
    gold_s: list[float] = field(default_factory=list)
    watches: list[Watch] = field(default_factory=list)
    published: list[dict[str, int]] = field(default_factory=list)
    noop_s: list[float] = field(default_factory=list)
    noop_runs: list = field(default_factory=list)
    full_dbt_s: list[float] = field(default_factory=list)
    full_publish_s: list[float] = field(default_factory=list)
    full_runs: list = field(default_factory=list)


def history(lake: Lake, catalog, args, history_end: date) -> None:
    """``lake.days`` days of readings up to ``history_end`` (exclusive) in batches, then silver
    and the first (full) gold build."""
    from lakehouse.pipeline.gold import build_gold
    from lakehouse.pipeline.silver import build_silver

    contract, codes = catalog["water_levels"], [f"TV{n + 1:02d}" for n in range(args.stations)]
    start = time.perf_counter()
    daily_from = history_end - timedelta(days=LATE_WINDOW_DAYS)
    day, batches = lake.first, 0
    while day < history_end:
        length = 1 if day >= daily_from else min(args.batch_days, (daily_from - day).days)
        last = day + timedelta(days=length - 1)
        land_rows(contract, lake.settings, f"hist-{day:%Y%m%d}", readings(contract, codes, day, length, args.seed),
                  arrival(last))
        day, batches = last + timedelta(days=1), batches + 1
    lake.setup[f"land {batches} batches"] = time.perf_counter() - start
    start = time.perf_counter()
    build_silver(contract, lake.settings)
    lake.setup["build_silver"] = time.perf_counter() - start
    start = time.perf_counter()
    build_gold(lake.settings)
    lake.setup["first build_gold (full)"] = time.perf_counter() - start


def new_day(lake: Lake, catalog, args, day: date) -> None:
    from lakehouse.pipeline import gold
    from lakehouse.pipeline.silver import build_silver

    contract, codes = catalog["water_levels"], [f"TV{n + 1:02d}" for n in range(args.stations)]
    land_rows(contract, lake.settings, f"day-{day:%Y%m%d}", readings(contract, codes, day, 1, args.seed),
              arrival(day))
    start = time.perf_counter()
    build_silver(contract, lake.settings)
    lake.silver_s.append(time.perf_counter() - start)
    watch = Watch()
    with instrument(watch):
        start = time.perf_counter()
        result = gold.build_gold(lake.settings)
        lake.gold_s.append(time.perf_counter() - start)
    lake.watches.append(watch)
    lake.published.append(result.published)


def noop(lake: Lake) -> None:
    from lakehouse.pipeline.gold import run_dbt

    start = time.perf_counter()
    run = run_dbt(INCREMENTAL_ONLY, lake.settings)
    lake.noop_s.append(time.perf_counter() - start)
    lake.noop_runs.append(run)


def full_refresh(lake: Lake) -> None:
    """dbt rebuilds water_levels and its parents from silver; the gold table is replaced whole."""
    import duckdb

    from lakehouse.lake import delta
    from lakehouse.lake.duck import load_extensions
    from lakehouse.lake.paths import Tier, storage_options, table_uri
    from lakehouse.pipeline.gold import GOLD_SCHEMA, incremental_marts, run_dbt

    start = time.perf_counter()
    run = run_dbt(FULL_REFRESH, lake.settings)
    lake.full_dbt_s.append(time.perf_counter() - start)
    lake.full_runs.append(run)
    start = time.perf_counter()
    con = duckdb.connect(str(lake.settings.warehouse_path), read_only=True)
    try:
        load_extensions(con)
        table = con.execute(f'select * from {GOLD_SCHEMA}."water_levels"').fetch_arrow_table()
    finally:
        con.close()
    spec = incremental_marts(lake.settings)["water_levels"]
    delta.replace(table_uri(Tier.gold, "water_levels", lake.settings), table, batch_id=f"bench-full-{time.time_ns()}",
                  storage_options=storage_options(lake.settings), partition_by=spec.get("partition_by"))
    lake.full_publish_s.append(time.perf_counter() - start)


def rows_in(lake: Lake, tier_name: str) -> int:
    from lakehouse.lake.paths import Tier, table_uri

    return DeltaTable(table_uri(Tier(tier_name), "water_levels", lake.settings)).to_pyarrow_dataset().count_rows()


def alarm_days(lake: Lake) -> int:
    """Rows of the view ``int_incidents__water_level_alarms`` (station-days at alarm I or above),
    which dbt evaluates over all of silver once per test on it."""
    import duckdb

    from lakehouse.lake.duck import load_extensions

    con = duckdb.connect(str(lake.settings.warehouse_path), read_only=True)
    try:
        load_extensions(con)
        schema = con.execute("select table_schema from information_schema.tables "
                             "where table_name = 'int_incidents__water_level_alarms'").fetchone()[0]
        return con.execute(f'select count(*) from "{schema}".int_incidents__water_level_alarms').fetchone()[0]
    finally:
        con.close()


def gold_files(lake: Lake) -> int:
    from lakehouse.lake.paths import Tier, table_uri

    return len(DeltaTable(table_uri(Tier.gold, "water_levels", lake.settings)).file_uris())


# --------------------------------------------------------------------------- report


def fmt(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def breakdown(lakes: list[Lake]) -> Table:
    """Where the incremental ``build_gold`` goes: median of the runs, per lake."""
    table = Table(title="incremental build_gold: where the time goes (median of the runs, s)")
    table.add_column("part")
    for lake in lakes:
        table.add_column(f"{lake.days} d", justify="right")
    table.add_column("longest - shortest", justify="right")

    def med(lake: Lake, get: Callable[[Watch, int], float]) -> float:
        return statistics.median(get(w, i) for i, w in enumerate(lake.watches))

    def row(label: str, get: Callable[[Watch, int], float], style: str | None = None, digits: int = 3) -> None:
        values = [med(lake, get) for lake in lakes]
        table.add_row(label, *(f"{v:.{digits}f}" for v in values), f"{values[-1] - values[0]:+.{digits}f}",
                      style=style)

    splits = {id(lake): [node_split(w.dbt_runs[0], w.dbt_walls[0]) for w in lake.watches] for lake in lakes}

    def split(name: str) -> Callable[[Watch, int], float]:
        def get(watch: Watch, index: int) -> float:
            for lake in lakes:
                if watch in lake.watches:
                    return splits[id(lake)][index].get(name, 0.0)
            return 0.0
        return get

    def total(watch: Watch, index: int) -> float:
        for lake in lakes:
            if watch in lake.watches:
                return lake.gold_s[index]
        return 0.0

    row("build_gold", total, style="bold")
    row("  dbt build (subprocess)", lambda w, i: w.seconds["dbt"])
    row("    start-up + shut-down (wall - node span)", split("start-up + shut-down"))
    row("    node span (first node start -> last node end)", split("node span"))
    row("      water_levels model (execution)", split("water_levels model (sum)"))
    row("      water_levels tests (execution, summed)", split("water_levels tests (sum)"))
    row("      stg_hydromet__water_levels tests (view on silver)", split("stg_hydromet__water_levels tests (sum)"))
    row("      int_incidents__water_level_alarms tests (view on silver)",
        split("int_incidents__water_level_alarms tests (sum)"))
    row("      other models (execution, summed)", split("model (sum)"))
    row("      other tests (execution, summed)", split("test (sum)"))
    row("      seeds (execution, summed)", split("seed (sum)"))
    row("  publish_gold", lambda w, i: w.seconds["publish"])
    row("    water_levels: delta.merge of the changed rows", lambda w, i: w.seconds["publish: delta.merge"])
    row("    other marts: delta.replace", lambda w, i: w.seconds["publish: delta.replace"])
    row("    rest: open warehouse, list, except-query vs delta_scan",
        lambda w, i: w.seconds["publish"] - w.seconds["publish: delta.merge"] - w.seconds["publish: delta.replace"])
    row("  rest of build_gold (list silver, dbt selectors)",
        lambda w, i: total(w, i) - w.seconds["dbt"] - w.seconds["publish"])
    nodes = Table(title="dbt nodes in the incremental run")
    nodes.add_column("kind")
    for lake in lakes:
        nodes.add_column(f"{lake.days} d", justify="right")
    for kind in ("water_levels model", "model", "water_levels tests", "stg_hydromet__water_levels tests",
                 "int_incidents__water_level_alarms tests", "test", "seed"):
        nodes.add_row(kind, *(f"{splits[id(lake)][0].get(f'{kind} (nodes)', 0):.0f}" for lake in lakes))
    return table, nodes


def growers(lakes: list[Lake], top: int = 8) -> Table:
    """The dbt nodes whose execution grew most from the shortest history to the longest."""
    def medians(lake: Lake) -> dict[str, float]:
        times: dict[str, list[float]] = defaultdict(list)
        for watch in lake.watches:
            for result in watch.dbt_runs[0].results:
                times[result["unique_id"]].append(result.get("execution_time") or 0.0)
        return {uid: statistics.median(v) for uid, v in times.items()}

    short, long = medians(lakes[0]), medians(lakes[-1])
    grown = sorted(long, key=lambda uid: long[uid] - short.get(uid, 0.0), reverse=True)[:top]
    table = Table(title=f"dbt nodes that grew most, execution s (median of the runs; all "
                        f"{len(long)} nodes: {sum(short.values()):.2f} -> {sum(long.values()):.2f} s summed)")
    table.add_column("node")
    table.add_column(f"{lakes[0].days} d", justify="right")
    table.add_column(f"{lakes[-1].days} d", justify="right")
    for uid in grown:
        name = ".".join(uid.split(".")[2:3]) if uid.startswith("test.") else uid.split(".")[-1]
        table.add_row(f"{uid.split('.')[0]} {name[:70]}", f"{short.get(uid, 0.0):.3f}", f"{long[uid]:.3f}")
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--histories", "--days", dest="histories", type=int, nargs="+", default=[30, 365],
                        help="days of history, one lake each (the ratio is longest / shortest)")
    parser.add_argument("--stations", type=int, default=20)
    parser.add_argument("--new-days", type=int, default=3, help="measured daily runs per lake")
    parser.add_argument("--batch-days", type=int, default=30, help="days per bronze batch of the history")
    parser.add_argument("--full-repeat", type=int, default=2, help="full refreshes per lake")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the lakes")
    parser.add_argument("--verbose", action="store_true", help="also log the library's INFO records")
    args = parser.parse_args()
    histories = sorted(set(args.histories))
    if not 1 <= args.stations <= 99 or args.new_days < 1 or len(histories) < 2 or min(histories) < LATE_WINDOW_DAYS:
        parser.error(f"need 1..99 stations (TVnn), --new-days >= 1 and two or more histories of at least "
                     f"{LATE_WINDOW_DAYS} days")
    import logging

    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    else:  # build_gold warns on every run that the marts of the other 13 silver tables wait
        logging.getLogger("lakehouse.pipeline.gold").setLevel(logging.ERROR)

    work = Path(tempfile.mkdtemp(prefix="ioc-bench-gold-"))
    lake_environment(work)
    try:
        from lakehouse.contracts import load_catalog
        from lakehouse.settings import REPO_ROOT, get_settings

        catalog = load_catalog(REPO_ROOT / "catalog")
        settings = get_settings()
        today = datetime.now(LOCAL).date()
        measured = [today - timedelta(days=args.new_days - n) for n in range(args.new_days)]  # ends yesterday
        history_end = measured[0]
        period = (history_end - timedelta(days=max(histories)), measured[-1])
        with console.status("base lake: admin_units (generator, landing zone), hydro_stations -> silver ..."):
            base = base_lake(work, catalog, settings, args, period)
        console.print(f"base lake: {args.stations} stations ({', '.join(f'{k} {v:.1f} s' for k, v in base.items())})")

        lakes = []
        for days in histories:
            root = work / f"h{days}"
            shutil.copytree(settings.lake_root, root / "lake")
            lake = Lake(days, settings.model_copy(update={
                "lake_root": str(root / "lake"), "landing_root": root / "landing",
                "warehouse_path": root / "warehouse" / "ioc.duckdb"}), history_end - timedelta(days=days))
            with console.status(f"{days}-day lake: history -> bronze -> silver -> first build_gold ..."):
                history(lake, catalog, args, history_end)
            console.print(f"{days:>4}-day lake ({lake.first} .. {history_end - timedelta(days=1)}): silver "
                          f"{rows_in(lake, 'silver'):,} readings; "
                          + ", ".join(f"{k} {v:.1f} s" for k, v in lake.setup.items()))
            lakes.append(lake)

        for number, day in enumerate(measured, start=1):
            for lake in lakes:
                with console.status(f"day {number}/{len(measured)} ({day}), {lake.days}-day lake: land, "
                                    f"build_silver, build_gold ..."):
                    new_day(lake, catalog, args, day)
                watch = lake.watches[-1]
                console.print(f"day {number} {day} {lake.days:>4} d: silver {lake.silver_s[-1]:.2f} s | "
                              f"[bold]build_gold {lake.gold_s[-1]:.2f} s[/bold] = dbt {watch.seconds['dbt']:.2f} + "
                              f"publish {watch.seconds['publish']:.2f} + rest "
                              f"{lake.gold_s[-1] - watch.seconds['dbt'] - watch.seconds['publish']:.2f}; "
                              f"published {lake.published[-1]}")
        for lake in lakes:
            with console.status(f"{lake.days}-day lake: no-op dbt build --select water_levels ..."):
                noop(lake)
                noop(lake)
        for _ in range(args.full_repeat):
            for lake in lakes:
                with console.status(f"{lake.days}-day lake: full refresh (+water_levels) + replace ..."):
                    full_refresh(lake)

        # ------------------------------------------------------------------ checks
        failures = []
        readings_per_day = 24 * args.stations
        for lake in lakes:
            for day, published in zip(measured, lake.published, strict=True):
                if published.get("water_levels") != readings_per_day:
                    failures.append(f"{lake.days} d, {day}: published {published.get('water_levels')} "
                                    f"water_levels rows, expected {readings_per_day}")
            silver, gold_rows = rows_in(lake, "silver"), rows_in(lake, "gold")
            expected = readings_per_day * (lake.days + len(measured))
            if not silver == gold_rows == expected:
                failures.append(f"{lake.days} d: silver {silver:,}, gold {gold_rows:,}, expected {expected:,}")

        # ------------------------------------------------------------------ report
        summary = Table(title=f"gold: daily incremental build_gold vs history "
                              f"({args.stations} stations, hourly, {len(measured)} new days per lake)")
        for name in ("history days", "silver rows at the end", "silver s (median)", "incr. gold best s",
                     "median s", "no-op dbt s", "full refresh s (dbt + publish)"):
            summary.add_column(name, justify="right")
        for lake in lakes:
            full = [d + p for d, p in zip(lake.full_dbt_s, lake.full_publish_s, strict=True)]
            summary.add_row(
                str(lake.days), f"{rows_in(lake, 'silver'):,}", f"{statistics.median(lake.silver_s):.2f}",
                f"{min(lake.gold_s):.2f}", f"{statistics.median(lake.gold_s):.2f}", f"{min(lake.noop_s):.2f}",
                f"{min(full):.2f} ({min(lake.full_dbt_s):.2f} + {min(lake.full_publish_s):.2f})")
        console.print(summary)
        short, long = lakes[0], lakes[-1]
        best = min(long.gold_s) / min(short.gold_s)
        median = statistics.median(long.gold_s) / statistics.median(short.gold_s)
        verdict = "[green]PASS[/green]" if median <= TARGET_RATIO else "[red]FAIL[/red]"
        console.print(f"ratio incremental({long.days} d)/incremental({short.days} d): [bold]{best:.2f}x best, "
                      f"{median:.2f}x median[/bold] -> {verdict} (target <= {TARGET_RATIO}; runs "
                      f"{short.days} d: {fmt(short.gold_s)} s; {long.days} d: {fmt(long.gold_s)} s)")
        for lake in lakes:
            noop_split = node_split(lake.noop_runs[-1], lake.noop_s[-1])
            console.print(
                f"{lake.days:>4} d: no-op `dbt {' '.join(INCREMENTAL_ONLY)}` {fmt(lake.noop_s)} s "
                f"(start-up + shut-down {noop_split['start-up + shut-down']:.2f} s) = "
                f"[bold]{100 * min(lake.noop_s) / statistics.median(lake.gold_s):.0f}%[/bold] of the median "
                f"incremental build_gold; full refresh {min(lake.full_dbt_s) + min(lake.full_publish_s):.2f} s = "
                f"{(min(lake.full_dbt_s) + min(lake.full_publish_s)) / statistics.median(lake.gold_s):.2f}x it; "
                f"gold.water_levels files {gold_files(lake)}; alarm station-days (int_incidents__water_level_alarms) "
                f"{alarm_days(lake):,}")
        table, nodes = breakdown(lakes)
        console.print(table)
        console.print(nodes)
        console.print(growers(lakes))
        if failures:
            console.print("[red]MISMATCH[/red]: " + "; ".join(failures))
        else:
            console.print(f"[green]reconciled[/green]: every incremental run published {readings_per_day} "
                          "water_levels rows (one day), gold holds every silver reading")
        if args.keep:
            console.print(f"kept {work}")
        return 1 if failures else 0
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
