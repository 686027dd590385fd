"""A department's operational database, seeded from the generator's ``db/<dataset>.jsonl``.

The table is laid out like the legacy systems it stands for, so that every row the generator
writes, defects included, can exist in it (and the manifest's counts stay true):

* Columns a *parse* defect can hit (per the generator's own rules, read from the contract:
  numbers that may hold ``"không rõ"``, non-null dates that may hold ``"hôm qua"``) are
  ``TEXT``, as in a legacy form-backed schema; typing them is the contract's job, in our
  parse step. Every other column has the contract type (``BIGINT``, ``BOOLEAN``, ...).
* The primary key columns carry no constraint and may be NULL: ``missing_key`` rows and
  exact ``duplicate`` rows are real in such systems. A plain index on the watermark serves
  the incremental reads.
* The watermark (``options.watermark``) stays a real ``TIMESTAMP`` — it is the
  application's change clock, and ordering text would be wrong — and the soft-delete flag
  a ``BOOLEAN NOT NULL DEFAULT false``. A generated row whose watermark is itself unreadable
  cannot be stored in a timestamp column, so it is stored with a **NULL** watermark (the
  application failed to set it): the extractor reads NULL watermarks on a dataset's first run
  only, and parsing quarantines the row as a missing required value. Realism over a text
  watermark, at the price of the reason reading ``required.updated_at`` instead of
  ``parse.updated_at``.
* Timestamps are ``TIMESTAMPTZ`` on PostgreSQL; on MariaDB (``DATETIME(6)``) and SQLite,
  which have no zone, they are Vietnamese local time, as the department's application
  writes them and as ``parse`` reads naive times.

``sqlite:///path`` works the same (no schema: the bare table name), so the demo runs
without a database server.
"""

from __future__ import annotations

import json
import random
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Connection

from lakehouse.contracts import Contract
from lakehouse.contracts.model import Column
from lakehouse.generate.defects import candidate_columns
from lakehouse.generate.manifest import PARSE_DEFECT_KINDS
from lakehouse.ingest.database import DatabaseSource, make_engine
from lakehouse.settings import get_settings

_INSERT_CHUNK = 5_000
_TIMESTAMP = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
_TYPES: dict[str, sa.types.TypeEngine] = {
    "string": sa.Text(),
    "json": sa.Text(),
    "int": sa.Integer(),
    "bigint": sa.BigInteger(),
    "double": sa.Double(),
    "boolean": sa.Boolean(),
    "date": sa.Date(),
    "timestamp": _TIMESTAMP,
}


def generated_rows(out_dir: Path | str, contract: Contract) -> list[dict[str, Any]]:
    """The generator's rows for a database source, in file order (line n = manifest row n)."""
    path = Path(out_dir) / "db" / f"{contract.name}.jsonl"
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def legacy_text_columns(contract: Contract) -> set[str]:
    """Columns stored as text: those a parse defect can hit, except the key (typed, nullable)
    and the watermark (typed, NULL when unreadable)."""
    source = DatabaseSource.from_contract(contract)
    hit = {c.name for kind in PARSE_DEFECT_KINDS for c in candidate_columns(contract, kind)}
    return hit - set(contract.primary_key) - {source.watermark}


def _sql_type(column: Column, text_columns: set[str]) -> sa.types.TypeEngine:
    if column.name in text_columns:
        return sa.Text()
    precision = column.decimal_precision
    return sa.Numeric(*precision) if precision else _TYPES[column.type]


def department_table(
    contract: Contract, dialect: str, metadata: sa.MetaData | None = None
) -> sa.Table:
    """The department's table as described in the module docstring."""
    source = DatabaseSource.from_contract(contract)
    text_columns = legacy_text_columns(contract)
    maybe_missing = {*contract.primary_key, source.watermark}
    columns = []
    for column in contract.columns:
        if column.name == source.soft_delete:
            columns.append(
                sa.Column(column.name, sa.Boolean(), nullable=False, server_default=sa.false())
            )
        else:
            nullable = column.nullable or column.name in maybe_missing
            columns.append(
                sa.Column(column.name, _sql_type(column, text_columns), nullable=nullable)
            )
    return sa.Table(
        source.table,
        metadata if metadata is not None else sa.MetaData(),
        *columns,
        sa.Index(f"ix_{source.table}_{source.watermark}", source.watermark),
        schema=source.schema_for(dialect),
        mysql_charset="utf8mb4",
    )


def _create_namespace(conn: Connection, schema: str | None) -> None:
    if schema is None:
        return
    if conn.dialect.name in ("mysql", "mariadb"):
        # A MariaDB schema is a database; Vietnamese text needs utf8mb4.
        name = conn.dialect.identifier_preparer.quote_identifier(schema)
        charset = "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        conn.execute(sa.text(f"CREATE DATABASE IF NOT EXISTS {name} {charset}"))
    else:
        conn.execute(sa.schema.CreateSchema(schema, if_not_exists=True))


class _Converter:
    """Generator JSON values → values for one dialect's column types."""

    def __init__(self, contract: Contract, table: sa.Table, dialect: str, timezone: str) -> None:
        self.contract, self.table, self.zone = contract, table, ZoneInfo(timezone)
        self.aware = dialect == "postgresql"
        self.watermark = DatabaseSource.from_contract(contract).watermark

    def timestamp(self, value: Any) -> datetime | None:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.zone)
        return moment if self.aware else moment.astimezone(self.zone).replace(tzinfo=None)

    def value(self, name: str, value: Any) -> Any:
        if value is None:
            return None
        kind = self.table.c[name].type
        try:
            if isinstance(kind, sa.Text):
                return _as_text(value)
            if isinstance(kind, (sa.DateTime, mysql.DATETIME)):
                return self.timestamp(value)
            if isinstance(kind, sa.Date):
                return value if isinstance(value, date) else date.fromisoformat(str(value))
            if isinstance(kind, sa.Boolean):
                if not isinstance(value, bool):
                    raise TypeError
                return value
            if isinstance(kind, sa.Numeric) and not isinstance(kind, sa.Float):
                return Decimal(str(value))
            if isinstance(kind, sa.Integer):
                if isinstance(value, bool) or not isinstance(value, int):
                    raise TypeError
                return value
            if isinstance(kind, sa.Float):
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise TypeError
                return float(value)
        except (TypeError, ValueError) as exc:
            if name == self.watermark:
                return None  # unreadable change clock: stored as "not set" (module docstring)
            raise ValueError(
                f"{self.contract.name}.{name}: {value!r} does not fit its {kind} column; "
                "only the columns a parse defect can hit are text"
            ) from exc
        return value

    def row(self, row: Mapping[str, Any]) -> dict[str, Any]:
        values = {c.name: self.value(c.name, row.get(c.name)) for c in self.contract.columns}
        soft_delete = DatabaseSource.from_contract(self.contract).soft_delete
        if soft_delete and values.get(soft_delete) is None:
            values[soft_delete] = False
        return values


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def _insert(conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    for start in range(0, len(rows), _INSERT_CHUNK):
        conn.execute(table.insert(), list(rows[start : start + _INSERT_CHUNK]))


def seed_department_db(
    contract: Contract,
    url: str,
    rows: Iterable[Mapping[str, Any]],
    *,
    drop: bool = True,
    timezone: str | None = None,
) -> int:
    """Create the department's table (and its schema/database) and insert ``rows`` (the
    generator's, contract column names); return how many were inserted. ``drop`` replaces
    an existing table, otherwise rows are added to it."""
    engine = make_engine(url)
    try:
        table = department_table(contract, engine.dialect.name)
        convert = _Converter(
            contract, table, engine.dialect.name, timezone or get_settings().timezone
        )
        values = [convert.row(row) for row in rows]
        with engine.begin() as conn:
            _create_namespace(conn, table.schema)
            if drop:
                table.drop(conn, checkfirst=True)
            table.create(conn, checkfirst=True)
            _insert(conn, table, values)
        return len(values)
    finally:
        engine.dispose()


@dataclass(frozen=True)
class Changes:
    """What :func:`apply_changes` did: keys as tuples in primary-key order."""

    at: datetime
    updated: list[tuple]
    deleted: list[tuple]
    inserted: int

    @property
    def rows(self) -> int:
        return len(self.updated) + len(self.deleted) + self.inserted


def _live_unique_keys(
    conn: Connection, table: sa.Table, contract: Contract, soft_delete: str | None
) -> list[tuple]:
    """Keys present exactly once and not deleted: changing one changes exactly one row."""
    key = [table.c[k] for k in contract.primary_key]
    query = sa.select(*key).where(*(c.is_not(None) for c in key))
    if soft_delete:
        query = query.where(table.c[soft_delete] == sa.false())
    query = query.group_by(*key).having(sa.func.count() == 1).order_by(*key)
    return [tuple(row) for row in conn.execute(query)]


def _matches(table: sa.Table, contract: Contract, key: tuple) -> sa.ColumnElement[bool]:
    return sa.and_(
        *(table.c[name] == value for name, value in zip(contract.primary_key, key, strict=True))
    )


def apply_changes(
    contract: Contract,
    url: str,
    *,
    updates: int = 0,
    deletes: int = 0,
    inserts: Iterable[Mapping[str, Any]] = (),
    at: datetime | None = None,
    seed: int = 0,
    exclude: Collection[tuple] = (),
    timezone: str | None = None,
) -> Changes:
    """The department's application at work, at one moment ``at`` (default now), so tests
    can make ties on the watermark: touch ``updates`` rows, soft-delete ``deletes`` rows
    (both picked at random, reproducibly, among keys held by exactly one live row, minus
    ``exclude``) and insert ``inserts`` (generator rows; their watermark becomes ``at``)."""
    at = at or datetime.now(UTC)
    source = DatabaseSource.from_contract(contract)
    engine = make_engine(url)
    try:
        table = department_table(contract, engine.dialect.name)
        convert = _Converter(
            contract, table, engine.dialect.name, timezone or get_settings().timezone
        )
        stamp = convert.timestamp(at)
        new_rows = [convert.row({**row, source.watermark: at}) for row in inserts]
        with engine.begin() as conn:
            keys = [
                k
                for k in _live_unique_keys(conn, table, contract, source.soft_delete)
                if k not in set(exclude)
            ]
            if updates + deletes > len(keys):
                raise ValueError(
                    f"{contract.name}: {updates + deletes} rows to change, {len(keys)} candidates"
                )
            chosen = random.Random(seed).sample(keys, updates + deletes)
            updated, deleted = chosen[:updates], chosen[updates:]
            for key in updated:
                conn.execute(
                    sa.update(table)
                    .where(_matches(table, contract, key))
                    .values({source.watermark: stamp})
                )
            for key in deleted:
                if not source.soft_delete:
                    raise ValueError(f"{contract.name} declares no soft_delete column")
                flags = {source.watermark: stamp, source.soft_delete: True}
                conn.execute(sa.update(table).where(_matches(table, contract, key)).values(flags))
            _insert(conn, table, new_rows)
        return Changes(at=at, updated=updated, deleted=deleted, inserted=len(new_rows))
    finally:
        engine.dispose()
