"""Department databases → bronze, against the real PostgreSQL and MariaDB (and SQLite).

Each test seeds its own schema (PostgreSQL) or database (MariaDB), named with a random
token and dropped afterwards, from the generator's rows, and lands into its own lake. The
servers are part of the test environment: when one is unreachable the tests fail and say
how to start it; they never skip.
"""

from __future__ import annotations

import json
import os
import secrets
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from lakehouse.contracts import Contract, SourceKind
from lakehouse.generate import DatasetManifest, Manifest, generate
from lakehouse.generate.manifest import PARSE_DEFECT_KINDS
from lakehouse.ingest import bronze, database
from lakehouse.ingest.database import (
    Batch,
    DatabaseSource,
    DatabaseSourceError,
    extract_table,
    make_engine,
    normalise_url,
    read_state,
    state_uri,
)
from lakehouse.lake import Tier, delta, open_table, read, table_uri
from lakehouse.settings import Settings
from lakehouse.simulators.department_db import apply_changes, generated_rows, seed_department_db


@dataclass(frozen=True)
class Server:
    env: str
    default: str
    start: str

    @property
    def url(self) -> str:
        return os.environ.get(self.env) or self.default


SERVERS = {
    "postgresql": Server(
        "IOC_POSTGRES_URL",
        "postgresql://postgres@127.0.0.1:5432/test",
        "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    ),
    "mysql": Server(
        "IOC_MYSQL_URL",
        "mysql://root@127.0.0.1:3306/test",
        "start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd",
    ),
}


@dataclass
class Department:
    contract: Contract  # the catalog's, moved to this test's own schema/database
    url: str
    rows: list[dict]  # as generated and seeded (line n = manifest row n)
    manifest: DatasetManifest
    later: list[dict]  # a later day's rows, for inserts


def _database_contracts(catalog) -> dict[str, Contract]:
    """engine → the catalog's database dataset on it (whichever the contracts name)."""
    found = {}
    for contract in catalog:
        if contract.source.kind is SourceKind.database:
            found.setdefault(str(contract.source.options["engine"]), contract)
    return found


@pytest.fixture(scope="session")
def generated(catalog, tmp_path_factory) -> tuple[Path, Path]:
    names = [c.name for c in _database_contracts(catalog).values()]
    first, later = tmp_path_factory.mktemp("db-gen"), tmp_path_factory.mktemp("db-gen-later")
    generate(first, datasets=names, seed=11, catalog=catalog)
    generate(later, datasets=names, seed=12, start=date(2025, 7, 1), days=1, catalog=catalog)
    return first, later


def _require(server: Server, engine: str) -> None:
    try:
        with make_engine(server.url).connect():
            pass
    except sa.exc.OperationalError as exc:
        pytest.fail(
            f"{engine} at {server.url} is unreachable ({exc.orig}). Start it with `{server.start}` "
            f"or point {server.env} at a running server.",
            pytrace=False,
        )


def _relocated(contract: Contract, token: str) -> Contract:
    schema, _, table = contract.source.location.rpartition(".")
    source = contract.source.model_copy(update={"location": f"{schema}_{token}.{table}"})
    return contract.model_copy(update={"source": source})


def _drop_namespace(url: str, schema: str) -> None:
    engine = make_engine(url)
    try:
        name = engine.dialect.identifier_preparer.quote_identifier(schema)
        statement = (
            f"DROP DATABASE IF EXISTS {name}"
            if engine.dialect.name == "mysql"
            else f"DROP SCHEMA IF EXISTS {name} CASCADE"
        )
        with engine.begin() as conn:
            conn.execute(sa.text(statement))
    finally:
        engine.dispose()


@pytest.fixture(params=sorted(SERVERS))
def department(request, catalog, generated) -> Department:
    engine, server = request.param, SERVERS[request.param]
    _require(server, engine)
    original = _database_contracts(catalog)[engine]
    contract = _relocated(original, secrets.token_hex(4))
    first, later = generated
    rows = generated_rows(first, original)
    try:
        seed_department_db(contract, server.url, rows)
        yield Department(
            contract, server.url, rows, _manifest(first, original), generated_rows(later, original)
        )
    finally:
        _drop_namespace(server.url, str(DatabaseSource.from_contract(contract).schema))


def _manifest(out: Path, contract: Contract) -> DatasetManifest:
    return Manifest.load(out).datasets[contract.name]


# --- reading the lake back ---------------------------------------------------------------


def _rows(
    settings: Settings, contract: Contract, tier: Tier, batches: set[str] | None = None
) -> list[dict]:
    if open_table(tier, contract.name, settings) is None:
        return []
    rows = read(table_uri(tier, contract.name, settings)).to_pylist()
    return [r for r in rows if batches is None or r["_batch_id"] in batches]


def _version(settings: Settings, contract: Contract, tier: Tier) -> int | None:
    table = open_table(tier, contract.name, settings)
    return None if table is None else table.version()


def _key(contract: Contract, values: dict) -> tuple:
    return tuple(None if values[k] is None else str(values[k]) for k in contract.primary_key)


def _landed_keys(
    settings: Settings, contract: Contract, batches: set[str] | None = None
) -> Counter:
    """Keys of every row landed (bronze, and quarantine from its delivered JSON)."""
    keys = Counter(_key(contract, r) for r in _rows(settings, contract, Tier.bronze, batches))
    keys.update(
        _key(contract, json.loads(r["_raw"]))
        for r in _rows(settings, contract, Tier.quarantine, batches)
    )
    return keys


def _table_keys(department: Department) -> Counter:
    contract = department.contract
    source = DatabaseSource.from_contract(contract)
    engine = make_engine(department.url)
    try:
        table = sa.Table(
            source.table,
            sa.MetaData(),
            schema=source.schema_for(engine.dialect.name),
            autoload_with=engine,
        )
        with engine.connect() as conn:
            rows = (
                conn.execute(sa.select(*(table.c[k] for k in contract.primary_key)))
                .mappings()
                .all()
            )
    finally:
        engine.dispose()
    return Counter(_key(contract, dict(r)) for r in rows)


def _one_batch_per_watermark(settings: Settings, contract: Contract) -> None:
    watermark = DatabaseSource.from_contract(contract).watermark
    batches: dict = {}
    for row in _rows(settings, contract, Tier.bronze):
        batches.setdefault(row[watermark], set()).add(row["_batch_id"])
    split = {value: ids for value, ids in batches.items() if len(ids) > 1}
    assert not split, f"rows sharing a watermark were split across batches: {split}"


# --- tests -------------------------------------------------------------------------------


@pytest.mark.services
def test_first_extraction_reconciles_with_the_manifest(department, lake_settings):
    contract, manifest = department.contract, department.manifest
    results = extract_table(contract, lake_settings, url=department.url, batch_rows=40)

    assert len(results) > 1, "the table should have been streamed in several batches"
    assert sum(r.rows_in for r in results) == manifest.rows_total == len(department.rows)
    assert sum(r.bronze_rows for r in results) == manifest.expected.bronze
    assert sum(r.quarantined_rows for r in results) == manifest.expected.quarantine_parse
    assert _landed_keys(lake_settings, contract) == _table_keys(department)
    _one_batch_per_watermark(lake_settings, contract)

    # Every parse defect is quarantined under a rule naming the column it hit. A defective
    # watermark is stored NULL in the department's typed column: `required.<watermark>`.
    expected = Counter(
        (_key(contract, department.rows[d.row - 1]), d.column)
        for d in manifest.defect_rows
        if d.kind in PARSE_DEFECT_KINDS
    )
    quarantined = _rows(lake_settings, contract, Tier.quarantine)
    found = Counter(
        (_key(contract, json.loads(q["_raw"])), q["_rule"].split(".", 1)[1]) for q in quarantined
    )
    assert found == expected
    assert {q["_source"] for q in quarantined} == {
        f"{normalise_url(department.url).get_backend_name()}:{contract.source.location}"
    }

    # Soft deletes travel as rows: every clean deleted row is in bronze, flag set.
    soft_delete = DatabaseSource.from_contract(contract).soft_delete
    defect_lines = {d.row for d in manifest.defect_rows if d.kind in PARSE_DEFECT_KINDS}
    deleted = {
        _key(contract, r)
        for i, r in enumerate(department.rows, 1)
        if r[soft_delete] and i not in defect_lines
    }
    assert deleted and deleted <= {
        _key(contract, r) for r in _rows(lake_settings, contract, Tier.bronze) if r[soft_delete]
    }

    # Text survives the round trip unchanged (Vietnamese in utf8mb4, NFC as delivered).
    texts = [c.name for c in contract.columns if c.type == "string"]
    generated_by_key = {_key(contract, r): r for r in department.rows}
    for row in _rows(lake_settings, contract, Tier.bronze):
        assert {c: row[c] for c in texts} == {
            c: generated_by_key[_key(contract, row)][c] for c in texts
        }

    state = read_state(contract.name, lake_settings)
    assert not state.pending and state.last_batch_id == results[-1].batch_id


@pytest.mark.services
def test_incremental_run_extracts_exactly_the_changes(department, lake_settings):
    contract, url = department.contract, department.url
    extract_table(contract, lake_settings, url=url)
    versions = (
        _version(lake_settings, contract, Tier.bronze),
        _version(lake_settings, contract, Tier.quarantine),
    )

    assert extract_table(contract, lake_settings, url=url) == []
    assert (
        _version(lake_settings, contract, Tier.bronze),
        _version(lake_settings, contract, Tier.quarantine),
    ) == versions

    inserts = department.later[:6]
    changes = apply_changes(contract, url, updates=5, deletes=3, inserts=inserts, seed=1)
    results = extract_table(contract, lake_settings, url=url)
    batches = {r.batch_id for r in results}

    assert sum(r.rows_in for r in results) == changes.rows == 14
    wanted = Counter(tuple(str(v) for v in k) for k in changes.updated + changes.deleted)
    wanted.update(_key(contract, row) for row in inserts)
    assert _landed_keys(lake_settings, contract, batches) == wanted

    source = DatabaseSource.from_contract(contract)
    new = _rows(lake_settings, contract, Tier.bronze, batches)
    deleted = {tuple(str(v) for v in k) for k in changes.deleted}
    assert all(r[source.soft_delete] for r in new if _key(contract, r) in deleted)
    assert all(r[source.watermark] == changes.at for r in new)
    assert read_state(contract.name, lake_settings).last_batch_id == results[-1].batch_id

    assert extract_table(contract, lake_settings, url=url) == []


@pytest.mark.services
def test_crash_after_write_ahead_resumes_without_loss_or_duplicates(
    department, lake_settings, monkeypatch
):
    contract, url, manifest = department.contract, department.url, department.manifest
    real_append = bronze.delta.append
    bronze_writes = []

    def crash_on_second_bronze_write(uri, data, **kwargs):
        if "/bronze/" in uri:
            bronze_writes.append(uri)
            if len(bronze_writes) == 2:
                raise RuntimeError("worker killed")
        return real_append(uri, data, **kwargs)

    monkeypatch.setattr(bronze.delta, "append", crash_on_second_bronze_write)
    with pytest.raises(RuntimeError, match="worker killed"):
        extract_table(contract, lake_settings, url=url, batch_rows=40)
    monkeypatch.setattr(bronze.delta, "append", real_append)

    state = read_state(contract.name, lake_settings)
    assert state.pending, "the batch range was written ahead before landing"
    interrupted = Batch(contract.name, state.pending_from, state.pending_to).batch_id
    quarantine_uri = table_uri(Tier.quarantine, contract.name, lake_settings)
    assert delta.batch_committed(quarantine_uri, f"{interrupted}:parse"), (
        "quarantine landed before the crash"
    )
    assert interrupted not in {r["_batch_id"] for r in _rows(lake_settings, contract, Tier.bronze)}

    # The department keeps working, and the re-run uses another batch size: the pending
    # range is still finished exactly as written ahead, then the changes follow.
    changes = apply_changes(contract, url, inserts=department.later[:3])
    results = extract_table(contract, lake_settings, url=url, batch_rows=1_000)
    assert results[0].batch_id == interrupted and not results[0].skipped
    assert len(results) == 2  # the pending range, then the rest with the inserts
    bronze_rows, quarantined = (
        len(_rows(lake_settings, contract, t)) for t in (Tier.bronze, Tier.quarantine)
    )
    assert bronze_rows + quarantined == manifest.rows_total + changes.rows
    assert _landed_keys(lake_settings, contract) == _table_keys(department)
    assert not read_state(contract.name, lake_settings).pending


@pytest.mark.services
def test_crash_before_the_watermark_advances_lands_nothing_new(
    department, lake_settings, monkeypatch
):
    contract, url = department.contract, department.url
    real_merge = database.delta.merge

    def crash_on_advance(uri, data, **kwargs):
        if uri == state_uri(lake_settings) and data.column("pending_to")[0].as_py() is None:
            raise RuntimeError("worker killed")
        return real_merge(uri, data, **kwargs)

    monkeypatch.setattr(database.delta, "merge", crash_on_advance)
    with pytest.raises(RuntimeError, match="worker killed"):
        extract_table(contract, lake_settings, url=url)
    monkeypatch.setattr(database.delta, "merge", real_merge)
    assert read_state(contract.name, lake_settings).pending
    versions = (
        _version(lake_settings, contract, Tier.bronze),
        _version(lake_settings, contract, Tier.quarantine),
    )

    [resumed] = extract_table(
        contract, lake_settings, url=url, batch_rows=10
    )  # the range, not the size, decides
    assert resumed.skipped
    assert (
        _version(lake_settings, contract, Tier.bronze),
        _version(lake_settings, contract, Tier.quarantine),
    ) == versions
    assert _landed_keys(lake_settings, contract) == _table_keys(department)
    assert extract_table(contract, lake_settings, url=url) == []


@pytest.mark.services
def test_ties_on_the_watermark_are_never_split_across_batches(department, lake_settings):
    contract, url = department.contract, department.url
    extract_table(contract, lake_settings, url=url)
    at = datetime.now(UTC)
    first = apply_changes(
        contract, url, updates=4, deletes=2, inserts=department.later[:2], at=at, seed=2
    )
    touched = first.updated + first.deleted
    second = apply_changes(
        contract, url, updates=5, at=at + timedelta(seconds=1), seed=3, exclude=touched
    )

    results = extract_table(contract, lake_settings, url=url, batch_rows=3)
    assert [r.rows_in for r in results] == [first.rows, second.rows] == [8, 5]
    _one_batch_per_watermark(lake_settings, contract)
    assert _landed_keys(lake_settings, contract) == _table_keys(department) + Counter(
        tuple(str(v) for v in k) for k in touched + second.updated
    )


def test_sqlite_url_works_the_same(catalog, generated, lake_settings, tmp_path):
    contract = _database_contracts(catalog)["postgresql"]
    first, later = generated
    url = f"sqlite:///{tmp_path / 'department.db'}"
    rows = generated_rows(first, contract)
    seed_department_db(contract, url, rows)
    manifest = _manifest(first, contract)

    results = extract_table(contract, lake_settings, url=url, batch_rows=50)
    assert sum(r.bronze_rows for r in results) == manifest.expected.bronze
    assert sum(r.quarantined_rows for r in results) == manifest.expected.quarantine_parse
    assert {r["_source"] for r in _rows(lake_settings, contract, Tier.bronze)} == {
        f"sqlite:{contract.source.location}"
    }

    changes = apply_changes(
        contract, url, updates=2, deletes=1, inserts=generated_rows(later, contract)[:2]
    )
    assert (
        sum(r.rows_in for r in extract_table(contract, lake_settings, url=url)) == changes.rows == 5
    )
    assert extract_table(contract, lake_settings, url=url) == []


def test_an_unconfigured_database_names_its_setting(catalog, lake_settings):
    for engine, contract in _database_contracts(catalog).items():
        settings = lake_settings.model_copy(update={"postgres_url": "", "mysql_url": ""})
        with pytest.raises(DatabaseSourceError, match=SERVERS[engine].env):
            extract_table(contract, settings)


def test_datasets_extracted_at_once_share_the_state_table(
    catalog, generated, lake_settings, tmp_path
):
    """Two extractions merge into the one-row-per-dataset state table at the same time;
    conflicting commits are retried, so both datasets finish with their own watermark."""
    first, _ = generated
    contracts = list(_database_contracts(catalog).values())
    urls = {c.name: f"sqlite:///{tmp_path / c.name}.db" for c in contracts}
    for contract in contracts:
        seed_department_db(contract, urls[contract.name], generated_rows(first, contract))
    with ThreadPoolExecutor(len(contracts)) as pool:
        runs = {
            c.name: pool.submit(extract_table, c, lake_settings, url=urls[c.name], batch_rows=15)
            for c in contracts
        }
    for contract in contracts:
        results = runs[contract.name].result()
        assert sum(r.rows_in for r in results) == _manifest(first, contract).rows_total
        state = read_state(contract.name, lake_settings)
        assert state.last_batch_id == results[-1].batch_id and not state.pending
