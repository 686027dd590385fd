"""The citizen requests the public API serves: a snapshot of ``gold.<open311 contract>``.

Gold is read with DuckDB over ``delta_scan``, which takes no lock: writers (the gold publish)
never wait for the API. The snapshot is held in memory (a province's requests are thousands,
not billions) and replaced when the Delta table's version changes; the version is checked on
every request (a log listing, about a millisecond), so a status published by the next run is
served at once, and one page of a listing never mixes two versions.

On load, every served column is shaped for the wire once: masked columns masked again with
silver's own mask, timestamps written in ISO 8601 with the platform's UTC offset
(``2026-12-04T08:15:30+07:00``, as GeoReport v2 asks).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import polars as pl

from lakehouse.contracts import Contract
from lakehouse.lake.delta import try_open
from lakehouse.lake.paths import Tier, storage_options, table_uri
from lakehouse.pipeline.pii import mask
from lakehouse.publicapi.fields import ServedField, allowed_values, served_fields
from lakehouse.settings import Settings

#: GeoReport v2: with no date range a server returns the last 90 days of requests.
DEFAULT_WINDOW = timedelta(days=90)
_REQUESTED, _UPDATED = "_requested_utc", "_updated_utc"  # sort and filter keys, never served


@dataclass(frozen=True)
class Snapshot:
    """One version of the served table, ready for the wire."""

    version: int | None  # None: gold has no such table yet (nothing is served)
    requests: pl.DataFrame  # wire columns, plus the UTC sort keys
    services: tuple[dict, ...]
    wire_columns: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class RequestQuery:
    """GET requests parameters, validated (see the app for the spec's names)."""

    ids: tuple[str, ...] | None = None  # service_request_id: overrides every other filter
    codes: tuple[str, ...] | None = None
    statuses: tuple[str, ...] | None = None
    start: datetime | None = None  # on requested_datetime, inclusive
    end: datetime | None = None
    page: int = 1
    page_size: int = 100


@dataclass(frozen=True)
class Page:
    rows: list[dict]
    total: int  # matching requests, all pages


class RequestStore:
    """Serves snapshots of the gold table behind the Open311 contract."""

    def __init__(self, contract: Contract, settings: Settings):
        self.contract = contract
        self.fields: tuple[ServedField, ...] = served_fields(contract)
        self.codes = allowed_values(contract, "service_code")
        self.uri = table_uri(Tier.gold, contract.name, settings)
        self.timezone = settings.timezone
        self._settings = settings
        self._options = storage_options(settings)
        self._lock = threading.Lock()
        self._con = None
        self._snapshot = self._empty()

    # --- snapshots -------------------------------------------------------------------------

    def current(self) -> Snapshot:
        """The snapshot of the table's latest version (loaded if the version moved)."""
        table = try_open(self.uri, self._options)
        version = None if table is None else table.version()
        if version != self._snapshot.version:
            with self._lock:
                if version != self._snapshot.version:
                    self._snapshot = self._load(version) if version is not None else self._empty()
        return self._snapshot

    def _empty(self) -> Snapshot:
        frame = pl.DataFrame(schema={**{f.wire: pl.String for f in self.fields},
                                     _REQUESTED: pl.Datetime("us", "UTC"), _UPDATED: pl.Datetime("us", "UTC")})
        return Snapshot(None, frame, self._services(frame), tuple(f.wire for f in self.fields))

    def _connection(self):
        if self._con is None:
            from lakehouse.lake.duck import connect

            self._con = connect(settings=self._settings)  # a lake on S3 is read through httpfs
        return self._con

    def _load(self, version: int) -> Snapshot:
        con = self._connection()
        present = {r[0] for r in con.execute(f"describe select * from delta_scan('{self.uri}')").fetchall()}
        select = ", ".join(f'"{f.name}"' if f.name in present else f'null as "{f.name}"' for f in self.fields)
        frame = self._shape(con.execute(f"select {select} from delta_scan('{self.uri}')").pl())
        return Snapshot(version, frame, self._services(frame), tuple(f.wire for f in self.fields))

    def _shape(self, raw: pl.DataFrame) -> pl.DataFrame:
        """Gold's columns as the wire shows them, under their Open311 names."""
        exprs = []
        for f in self.fields:
            col = pl.col(f.name)
            if f.masked:
                col = mask(col.cast(pl.String), f.column)
            elif f.is_timestamp:
                col = (col.cast(pl.Datetime("us", "UTC")).dt.convert_time_zone(self.timezone)
                       .dt.strftime("%Y-%m-%dT%H:%M:%S%:z"))
            elif f.column.type == "double":
                col = col.cast(pl.Float64)
            elif f.column.type in ("int", "bigint"):
                col = col.cast(pl.Int64)
            else:
                col = col.cast(pl.String)
            exprs.append(col.alias(f.wire))
        by_name = {f.wire: f.name for f in self.fields}
        keys = [pl.col(by_name["requested_datetime"]).cast(pl.Datetime("us", "UTC")).alias(_REQUESTED),
                (pl.col(by_name["updated_datetime"]).cast(pl.Datetime("us", "UTC")) if "updated_datetime" in by_name
                 else pl.col(by_name["requested_datetime"]).cast(pl.Datetime("us", "UTC"))).alias(_UPDATED)]
        return raw.select([*exprs, *keys]).sort([_REQUESTED, "service_request_id"], descending=[True, False])

    def _services(self, frame: pl.DataFrame) -> tuple[dict, ...]:
        """GeoReport v2 ``services``: every code the contract allows; its name as the latest
        request of that code gives it (the code itself until one arrives) and, as its group,
        the agency most often responsible for it."""
        names: dict[str, str] = {}
        groups: dict[str, str] = {}
        if frame.height and "service_name" in frame.columns:
            latest = (frame.filter(pl.col("service_name").is_not_null())
                      .sort(_UPDATED).group_by("service_code").agg(pl.col("service_name").last()))
            names = dict(latest.iter_rows())
        if frame.height and "agency_responsible" in frame.columns:
            counted = (frame.filter(pl.col("agency_responsible").is_not_null())
                       .group_by("service_code", "agency_responsible").len()
                       .sort(["len", "agency_responsible"], descending=[True, False])
                       .group_by("service_code", maintain_order=True).first())
            groups = {code: agency for code, agency, _ in counted.iter_rows()}
        return tuple({"service_code": code, "service_name": names.get(code, code),
                      "description": names.get(code, code), "metadata": False, "type": "realtime",
                      "keywords": code.replace("_", " "), "group": groups.get(code, "")}
                     for code in self.codes)

    # --- queries ---------------------------------------------------------------------------

    def find(self, snapshot: Snapshot, request_id: str) -> dict | None:
        hit = snapshot.requests.filter(pl.col("service_request_id") == request_id)
        return hit.select(snapshot.wire_columns).row(0, named=True) if hit.height else None

    def select(self, snapshot: Snapshot, query: RequestQuery, *, now: datetime | None = None) -> Page:
        frame = snapshot.requests
        if query.ids is not None:
            frame = frame.filter(pl.col("service_request_id").is_in(list(query.ids)))
        else:
            start, end = query.start, query.end
            if start is None and end is None:
                start = (now or datetime.now(UTC)) - DEFAULT_WINDOW
            frame = frame.filter(*_conditions(query.codes, query.statuses, start, end))
        offset = (query.page - 1) * query.page_size
        rows = frame.slice(offset, query.page_size).select(snapshot.wire_columns) if offset < frame.height else None
        return Page([] if rows is None else rows.to_dicts(), frame.height)


def _conditions(codes: Sequence[str] | None, statuses: Sequence[str] | None,
                start: datetime | None, end: datetime | None) -> list[pl.Expr]:
    found = [pl.lit(True)]
    if codes:
        found.append(pl.col("service_code").is_in(list(codes)))
    if statuses:
        found.append(pl.col("status").is_in(list(statuses)))
    if start is not None:
        found.append(pl.col(_REQUESTED) >= start.astimezone(UTC))
    if end is not None:
        found.append(pl.col(_REQUESTED) <= end.astimezone(UTC))
    return found


__all__ = ["DEFAULT_WINDOW", "Page", "RequestQuery", "RequestStore", "Snapshot"]
