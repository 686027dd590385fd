"""The records behind the simulated department APIs, and the query rules they answer by.

No HTTP here (:mod:`lakehouse.simulators.http_api` maps requests onto these calls). Every
record keeps a server-side modification time beside its payload, as a database row would:
ordering, ``updated_since``/``updated_after`` and keyset cursors use it, so a payload whose
timestamp text is corrupt (a generated defect) is still served, in a stable place.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from lakehouse.contracts import Contract, SourceKind
from lakehouse.ingest.api import cursor_key
from lakehouse.settings import get_settings

MAX_PAGE_SIZE = 1000
#: GeoReport v2: with no date parameters a server returns recent requests (90 days); a
#: start_date/end_date range may not span more than that either.
OPEN311_WINDOW = timedelta(days=90)


class QueryError(ValueError):
    """A bad request parameter: HTTP 400."""


def instant(value: Any, *, naive_ok: bool = True) -> datetime | None:
    """An ISO-8601 text as an aware instant (a naive payload time is the platform's local
    time, as ``parse`` reads it); None where it does not parse."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=ZoneInfo(get_settings().timezone)) if naive_ok else None
    return moment


def query_instant(params: dict[str, str], name: str) -> datetime | None:
    if name not in params:
        return None
    moment = instant(params[name], naive_ok=False)
    if moment is None:
        raise QueryError(f"{name}={params[name]!r} is not an ISO-8601 date-time with a UTC offset")
    return moment


def query_int(params: dict[str, str], name: str, default: int, low: int = 1, high: int | None = None) -> int:
    try:
        value = int(params.get(name, default))
    except ValueError:
        raise QueryError(f"{name}={params[name]!r} is not an integer") from None
    if value < low or (high is not None and value > high):
        raise QueryError(f"{name}={value} must lie between {low} and {high or '∞'}")
    return value


@dataclass
class Entry:
    seq: int  # insertion order: the tie-breaker that keeps keyset paging total
    modified: datetime
    payload: Any


@dataclass
class Feed:
    """One dataset as its department's server holds it."""

    contract: Contract
    entries: list[Entry] = field(default_factory=list)
    services: list[dict] = field(default_factory=list)  # Open311 only

    def __post_init__(self) -> None:
        self.cursor = cursor_key(self.contract)
        keys = self.contract.primary_key
        self.ids = [c.source_name or c.name for c in self.contract.columns if c.name in keys]

    @property
    def is_open311(self) -> bool:
        return self.contract.source.kind is SourceKind.open311

    def sort_key(self, entry: Entry) -> tuple[datetime, tuple[str, ...], int]:
        payload = entry.payload if isinstance(entry.payload, dict) else {}
        return entry.modified, tuple(str(payload.get(k) or "") for k in self.ids), entry.seq

    def add(self, payloads: list[Any]) -> None:
        """Append records; one whose cursor does not parse takes the time of the record before
        it (or of the newest one), as the row's commit time would be."""
        own = [instant(p.get(self.cursor)) if isinstance(p, dict) else None for p in payloads]
        first = next((t for t in own if t is not None), datetime.now(UTC))
        latest = max((e.modified for e in self.entries), default=first)
        for payload, moment in zip(payloads, own, strict=True):
            latest = moment or latest
            self.entries.append(Entry(len(self.entries) + 1, latest, payload))

    def ordered(self, since: datetime | None = None) -> list[Entry]:
        chosen = [e for e in self.entries if since is None or e.modified >= since]
        return sorted(chosen, key=self.sort_key)

    def update(self, match: dict[str, str], changes: dict[str, Any], modified: datetime | None) -> list[dict]:
        """Change every record whose id fields equal ``match``; it moves to the end of the
        order (its modification time becomes ``modified``, never earlier than the newest)."""
        hits = [e for e in self.entries if isinstance(e.payload, dict)
                and all(e.payload.get(k) == v for k, v in match.items())]
        if not hits:
            raise KeyError(f"{self.contract.name}: no record with {match}")
        newest = max(e.modified for e in self.entries)
        moment = modified or max(datetime.now(UTC), newest + timedelta(seconds=1))
        for entry in hits:
            entry.payload = {**entry.payload, **changes, self.cursor: moment.isoformat()}
            entry.modified = moment
        return [e.payload for e in hits]

    # --- department REST: keyset pages -----------------------------------------------------

    @staticmethod
    def encode_cursor(key: tuple[datetime, tuple[str, ...], int]) -> str:
        text = json.dumps([key[0].isoformat(), list(key[1]), key[2]], ensure_ascii=False)
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @staticmethod
    def decode_cursor(token: str) -> tuple[datetime, tuple[str, ...], int]:
        try:
            moment, ids, seq = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            return datetime.fromisoformat(moment), tuple(ids), int(seq)
        except (ValueError, TypeError) as exc:
            raise QueryError(f"cursor {token!r} is not one this server issued") from exc

    def rest_page(self, params: dict[str, str]) -> dict[str, Any]:
        """``{"items", "next_cursor"}``: records with modification time >= ``updated_since``
        (inclusive: a client must expect the watermark's ties again), ordered by time then
        id, after ``cursor``."""
        size = query_int(params, "page_size", 100, high=MAX_PAGE_SIZE)
        rows = self.ordered(query_instant(params, "updated_since"))
        if params.get("cursor"):
            after = self.decode_cursor(params["cursor"])
            rows = [e for e in rows if self.sort_key(e) > after]
        page = rows[:size]
        more = len(rows) > size
        return {"items": [e.payload for e in page],
                "next_cursor": self.encode_cursor(self.sort_key(page[-1])) if more else None}

    # --- Open311 GeoReport v2 --------------------------------------------------------------

    def open311_requests(self, params: dict[str, str]) -> list[Any]:
        """GET requests.json. Spec parameters: ``service_request_id`` (comma list, overrides
        the rest), ``service_code``, ``status`` (comma lists), ``start_date``/``end_date`` on
        ``requested_datetime`` (at most 90 days apart; none → the last 90 days). Extensions:
        ``updated_after`` (inclusive, on ``updated_datetime``; lifts the default window),
        ``page`` (1-based) and ``page_size``. Ordered by ``updated_datetime`` then id."""
        rows = self.ordered()
        if "service_request_id" in params:
            wanted = set(params["service_request_id"].split(","))
            return [e.payload for e in rows if isinstance(e.payload, dict)
                    and e.payload.get("service_request_id") in wanted]
        for name in ("service_code", "status"):
            if params.get(name):
                allowed = set(params[name].split(","))
                rows = [e for e in rows if isinstance(e.payload, dict) and e.payload.get(name) in allowed]
        start, end = query_instant(params, "start_date"), query_instant(params, "end_date")
        after = query_instant(params, "updated_after")
        if start and end and end - start > OPEN311_WINDOW:
            raise QueryError("start_date and end_date may not span more than 90 days")
        if start is None and end is None and after is None:
            end = max((self._requested(e) or e.modified for e in self.entries), default=None)
            start = end - OPEN311_WINDOW if end else None
        if start or end:
            rows = [e for e in rows if (r := self._requested(e)) is not None
                    and (start is None or r >= start) and (end is None or r <= end)]
        if after is not None:
            rows = [e for e in rows if e.modified >= after]
        size = query_int(params, "page_size", MAX_PAGE_SIZE, high=MAX_PAGE_SIZE)
        page = query_int(params, "page", 1)
        return [e.payload for e in rows[(page - 1) * size: page * size]]

    @staticmethod
    def _requested(entry: Entry) -> datetime | None:
        return instant(entry.payload.get("requested_datetime")) if isinstance(entry.payload, dict) else None

    def open311_request(self, request_id: str) -> list[Any] | None:
        """GET requests/{id}.json: a one-element list, or None (→ 404)."""
        for entry in self.entries:
            if isinstance(entry.payload, dict) and entry.payload.get("service_request_id") == request_id:
                return [entry.payload]
        return None
