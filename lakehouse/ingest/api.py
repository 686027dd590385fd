"""Department REST APIs and the province's Open311 GeoReport v2 endpoint → bronze:
incremental, paginated, retried, exactly once.

**Library: httpx + tenacity, not dlt's RESTClient.** Exactly-once here needs control of every
page: its records are de-duplicated against the watermark's ties, written ahead into the
state table, landed under a batch id made from their contents, and only then does the
watermark move. dlt's paginators would have to be subclassed for both schemes (Open311 is
re-anchored on the watermark, below), its retries are configured through dlt's global
runtime config (``RUNTIME__REQUEST_*``, ``config.toml``) rather than per call, and its
incremental state lives in a dlt pipeline — a second state store that could disagree with
the lake. httpx gives a pooled client with explicit timeouts; tenacity gives exponential
backoff with jitter on 5xx/429 and dropped connections, honouring ``Retry-After``.

**Paging.** Department APIs: ``GET <location>?updated_since=W&page_size=N`` then follow the
opaque ``next_cursor`` (keyset paging, stable while records change) until it is null.
Open311: ``GET requests.json?updated_after=W&page=1&page_size=N`` (``updated_after`` is the
common extension for incremental pulls; the spec's ``start_date``/``end_date`` filter on
``requested_datetime`` and cannot see status changes). Offset pages shift when a request
changes mid-run, so every page is *re-anchored*: after a page lands, the next request asks
for page 1 after the new watermark; only when a whole page shares one timestamp does the
page number grow. Both require the server to order by the cursor field ascending, and both
filters are inclusive (``>=``): the client checks the order and refuses a server that
returns records older than the watermark.

**Ties and exactly once.** Timestamps are not unique (every hydro station reports the same
hour), so an inclusive filter returns, again, the records that share the watermark. The
state keeps a multiset of content hashes of the landed records *at* the watermark (plus
those whose cursor does not parse, whose server-side time is unknown); a re-anchored page
drops one occurrence per hash, so a tie is neither lost (strict ``>`` would lose records
committed later with the same timestamp) nor landed twice, while an exact duplicate the
source really sent twice still lands twice, as bronze keeps what arrived. Each page is one
batch: id = dataset + watermark window + a hash of the page's records. Before landing, the
page itself is written ahead into the state row (``pending_*``); after ``land`` returns, the
watermark advances and the pending page is cleared. A re-run after a crash first re-lands
the pending page under its own id (what already landed is skipped by the Delta app
transaction), so the result is exact even if the source changed in between.

A malformed page (not JSON, wrong shape) fails the run with :class:`MalformedPage`; pages
landed before it keep their (advanced) watermark, the bad page and everything after it are
fetched again by the next run. Items that are not objects, or objects missing required
fields, are quarantined with a reason like any unparseable row.

State: ``ops.api_state``, one row per dataset, partitioned by dataset and MERGEd on it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import polars as pl
import pyarrow as pa
from deltalake import write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
    wait_random_exponential,
)

from lakehouse.contracts import Contract, SourceKind
from lakehouse.ingest.bronze import LandResult, land
from lakehouse.ingest.parse import (
    ROW_NUMBER,
    ParseOptions,
    ParseResult,
    normalise_header,
    parse,
    records_to_frame,
)
from lakehouse.lake import delta
from lakehouse.lake.paths import Tier, storage_options, table_uri
from lakehouse.settings import Settings, get_settings

log = logging.getLogger(__name__)

STATE_TABLE = "api_state"
DEFAULT_PAGE_SIZE = 100
OPEN311_CURSOR = "updated_datetime"  # GeoReport v2's last-modified field
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
STATE_SCHEMA = pa.schema([
    pa.field("dataset", pa.string(), nullable=False),
    pa.field("watermark", pa.timestamp("us", tz="UTC")),
    pa.field("watermark_ties", pa.string()),  # JSON {content hash: count} landed at the watermark
    pa.field("last_batch_id", pa.string()),
    pa.field("updated_at", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("pending_batch_id", pa.string()),  # write-ahead: the page being landed
    pa.field("pending_watermark", pa.timestamp("us", tz="UTC")),
    pa.field("pending_ties", pa.string()),
    pa.field("pending_source", pa.string()),
    pa.field("pending_records", pa.string()),  # JSON list, exactly as it will land
])


class ApiError(RuntimeError):
    """The pull cannot go on (HTTP error, retries exhausted, a misbehaving server)."""


class MalformedPage(ApiError):
    """A page that is not JSON or not the documented shape: the run stops, nothing is lost."""


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, for 5xx/429 answers and dropped connections."""

    attempts: int = 6
    initial: float = 0.5  # seconds before the first retry
    maximum: float = 30.0  # longest single wait, Retry-After included
    timeout: float = 30.0  # per request


# --- contract facts -----------------------------------------------------------------------


def cursor_key(contract: Contract) -> str:
    """The JSON key the source orders and filters on: ``options.cursor_field`` (a column or
    its ``source_name``), or Open311's ``updated_datetime``."""
    wanted = str(contract.source.options.get("cursor_field", OPEN311_CURSOR))
    for column in contract.columns:
        if wanted in (column.name, column.source_name):
            return column.source_name or column.name
    raise ValueError(f"{contract.name}: cursor_field '{wanted}' names no column")


def base_url_for(contract: Contract, settings: Settings, base_url: str | None = None) -> str:
    url = base_url or settings.api_base_urls.get(contract.source.system)
    if not url:
        raise ApiError(
            f"{contract.name}: no base URL for API system '{contract.source.system}'; set "
            f"IOC_API_BASE_URLS, e.g. IOC_API_BASE_URLS='{{\"{contract.source.system}\": \"https://…\"}}'"
        )
    return url.rstrip("/")


def digest(item: Any) -> str:
    """Content hash of one delivered item (key order does not matter)."""
    text = json.dumps(item, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def parse_records(items: list[Any], contract: Contract, options: ParseOptions) -> ParseResult:
    """A page's items → typed rows + rejects. ``_row_number`` is the item's 1-based position
    in the page; a field absent from every item is added empty, so a missing required field
    is a per-row reject rather than a whole-page failure."""
    objects = [(i, item) for i, item in enumerate(items, start=1) if isinstance(item, dict)]
    frame = records_to_frame([item for _, item in objects])
    delivered = {normalise_header(name) for name in frame.columns}
    absent = [c.source_name or c.name for c in contract.columns
              if not {normalise_header(c.name), normalise_header(c.source_name or c.name)} & delivered]
    if objects:
        frame = frame.with_columns(pl.lit(None, pl.String).alias(name) for name in absent)
    else:  # a frame without columns has no height to broadcast into
        frame = pl.DataFrame(schema=dict.fromkeys(absent, pl.String))
    frame = frame.with_columns(pl.Series(ROW_NUMBER, [i for i, _ in objects], pl.Int64))
    result = parse(frame, contract, options)
    others = [(i, item) for i, item in enumerate(items, start=1) if not isinstance(item, dict)]
    if not others:
        return result
    not_objects = pl.DataFrame(
        {ROW_NUMBER: [i for i, _ in others], "_rule": ["parse.record"] * len(others),
         "_reason": [f"not_an_object: item {i} is JSON {type(v).__name__}, not an object" for i, v in others],
         "_raw": [json.dumps(v, ensure_ascii=False) for _, v in others]},
        schema=result.rejected.schema,
    )
    return ParseResult(result.parsed, pl.concat([result.rejected, not_objects]).sort(ROW_NUMBER))


# --- state --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pending:
    batch_id: str
    watermark: datetime | None
    ties: Counter[str]
    source: str
    records: list[Any]


@dataclass(frozen=True)
class ApiState:
    dataset: str
    watermark: datetime | None = None
    ties: Counter[str] = field(default_factory=Counter)
    last_batch_id: str | None = None
    pending: Pending | None = None


def state_uri(settings: Settings) -> str:
    return table_uri(Tier.ops, STATE_TABLE, settings)


def read_state(dataset: str, settings: Settings | None = None) -> ApiState:
    settings = settings or get_settings()
    table = delta.try_open(state_uri(settings), storage_options(settings))
    rows = [] if table is None else table.to_pyarrow_table(filters=[("dataset", "=", dataset)]).to_pylist()
    if not rows:
        return ApiState(dataset)
    row = rows[0]
    pending = None if row["pending_batch_id"] is None else Pending(
        row["pending_batch_id"], row["pending_watermark"], Counter(json.loads(row["pending_ties"])),
        row["pending_source"], json.loads(row["pending_records"]),
    )
    return ApiState(dataset, row["watermark"], Counter(json.loads(row["watermark_ties"] or "{}")),
                    row["last_batch_id"], pending)


def _ties_json(ties: Counter[str]) -> str:
    return json.dumps(dict(sorted(ties.items())))


def write_state(state: ApiState, settings: Settings) -> None:
    """Upsert the dataset's row. No Delta app transaction: a state write is idempotent and
    may legitimately repeat (a backfill after the row was reset), so it must never be skipped.
    Each dataset is its own partition; a commit conflict with another dataset's run is retried."""
    p = state.pending
    row = {
        "dataset": state.dataset, "watermark": state.watermark, "watermark_ties": _ties_json(state.ties),
        "last_batch_id": state.last_batch_id, "updated_at": datetime.now(UTC),
        "pending_batch_id": p and p.batch_id, "pending_watermark": p and p.watermark,
        "pending_ties": p and _ties_json(p.ties), "pending_source": p and p.source,
        "pending_records": p and json.dumps(p.records, ensure_ascii=False),
    }
    data = pa.Table.from_pylist([row], schema=STATE_SCHEMA)
    for attempt in Retrying(stop=stop_after_attempt(10), wait=wait_random_exponential(0.05, 2),
                            retry=retry_if_exception_type(CommitFailedError), reraise=True):
        with attempt:
            _upsert(state_uri(settings), data, state.dataset, storage_options(settings))


def _upsert(uri: str, data: pa.Table, dataset: str, options: dict | None) -> None:
    table = delta.try_open(uri, options)
    if table is None:
        try:
            write_deltalake(uri, data, mode="append", partition_by=["dataset"], storage_options=options)
            return
        except DeltaError:  # another dataset's run created the table first
            table = delta.try_open(uri, options)
            if table is None:
                raise
    (table.merge(data, predicate=f"t.dataset = '{dataset}' AND t.dataset = s.dataset",
                 source_alias="s", target_alias="t")
     .when_matched_update_all().when_not_matched_insert_all().execute())


# --- HTTP ---------------------------------------------------------------------------------


class _Transient(Exception):
    def __init__(self, response: httpx.Response):
        super().__init__(f"HTTP {response.status_code} from {response.request.url}")
        self.retry_after = _retry_after(response.headers.get("Retry-After"))


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        try:
            return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
        except (TypeError, ValueError):
            return None


_TRANSIENT = (_Transient, httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


class _Http:
    def __init__(self, client: httpx.Client, policy: RetryPolicy, dataset: str):
        self.client, self.policy, self.dataset = client, policy, dataset
        self._backoff = (wait_exponential(multiplier=policy.initial, max=policy.maximum)
                         + wait_random(0, policy.initial))

    def _wait(self, state: RetryCallState) -> float:
        wait = self._backoff(state)
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, _Transient) and error.retry_after is not None:
            wait = max(wait, error.retry_after)
        return min(wait, self.policy.maximum)

    def _log(self, state: RetryCallState) -> None:
        log.warning("%s: attempt %d failed (%s); retrying", self.dataset, state.attempt_number,
                    state.outcome.exception() if state.outcome else "?")

    def get_json(self, url: str, params: dict[str, Any]) -> tuple[Any, str]:
        """(decoded body, the URL fetched). Retries transient failures, then gives up with
        :class:`ApiError`; a 4xx is not retried."""
        retrying = Retrying(stop=stop_after_attempt(self.policy.attempts), wait=self._wait,
                            retry=retry_if_exception(lambda e: isinstance(e, _TRANSIENT)),
                            before_sleep=self._log, reraise=True)
        try:
            for attempt in retrying:
                with attempt:
                    response = self.client.get(url, params=params)
                    if response.status_code >= 500 or response.status_code == 429:
                        raise _Transient(response)
        except _TRANSIENT as exc:
            raise ApiError(f"{self.dataset}: GET {url} failed {self.policy.attempts} times: {exc!r}") from exc
        fetched = str(response.request.url)
        if response.is_error:
            raise ApiError(f"{self.dataset}: GET {fetched} → {response.status_code}: {response.text[:300]}")
        try:
            return response.json(), fetched
        except ValueError as exc:
            raise MalformedPage(f"{self.dataset}: GET {fetched} is not JSON ({exc}): "
                                f"{response.text[:120]!r}") from exc


# --- a pull -------------------------------------------------------------------------------


def _stamp(moment: datetime | None) -> str:
    return "start" if moment is None else moment.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _consume(skip: Counter[str], items: Iterable[Any]) -> list[Any]:
    """Drop one occurrence per hash still in ``skip`` (mutated): the ties already landed."""
    fresh = []
    for item in items:
        key = digest(item)
        if skip[key] > 0:
            skip[key] -= 1
        else:
            fresh.append(item)
    return fresh


@dataclass
class _Run:
    contract: Contract
    settings: Settings
    http: _Http
    url: str
    page_size: int
    state: ApiState
    results: list[LandResult] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.key = cursor_key(self.contract)
        self.zone = ZoneInfo(self.settings.timezone)
        self.options = ParseOptions.from_contract(self.contract, self.settings.timezone)

    def cursor(self, item: Any) -> datetime | None:
        """The item's cursor as an instant; None where absent or unparseable (naive = local)."""
        value = item.get(self.key) if isinstance(item, dict) else None
        if not isinstance(value, str):
            return None
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=self.zone)

    def land_page(self, items: list[Any], source: str, skip: Counter[str]) -> None:
        fresh = _consume(skip, items)
        if not fresh:
            return
        start = self.state.watermark
        times = [self.cursor(item) for item in fresh]
        known = [t for t in times if t is not None]
        if known != sorted(known) or (start is not None and known and known[0] < start):
            raise ApiError(f"{self.contract.name}: {source} is not ordered by {self.key} from the "
                           f"watermark {start}: an incremental pull would skip records")
        end = max([t for t in (start, *known) if t is not None], default=None)
        ties = Counter(digest(item) for item, t in zip(fresh, times, strict=True) if t is None or t == end)
        if end == start:
            ties = self.state.ties + ties
        page_hash = hashlib.sha256("".join(map(digest, fresh)).encode()).hexdigest()[:16]
        batch_id = f"{self.contract.name}:{_stamp(start)}..{_stamp(end)}:{page_hash}"
        self.state = replace(self.state, pending=Pending(batch_id, end, ties, source, fresh))
        write_state(self.state, self.settings)  # write ahead
        self.finish_pending()

    def finish_pending(self) -> None:
        """Land the written-ahead page under its own batch id, then advance the watermark."""
        p = self.state.pending
        if p is None:
            return
        outcome = parse_records(p.records, self.contract, self.options)
        result = land(self.contract, outcome.parsed, outcome.rejected, batch_id=p.batch_id,
                      source=p.source, settings=self.settings)
        self.state = ApiState(self.state.dataset, p.watermark, p.ties, p.batch_id, None)
        write_state(self.state, self.settings)
        self.results.append(result)
        log.info("%s %s: %d bronze, %d quarantined%s", self.contract.name, p.batch_id, result.bronze_rows,
                 result.quarantined_rows, " (already landed)" if result.skipped else "")

    def pull_rest(self) -> None:
        """Follow ``next_cursor`` from the watermark; ties are skipped at the run's start."""
        params: dict[str, Any] = {"page_size": self.page_size}
        if self.state.watermark is not None:
            params["updated_since"] = iso(self.state.watermark)
        skip, seen = Counter(self.state.ties), set()
        while True:
            body, source = self.http.get_json(self.url, params)
            if not (isinstance(body, dict) and isinstance(body.get("items"), list)
                    and isinstance(body.get("next_cursor"), str | None)):
                raise MalformedPage(f"{self.contract.name}: {source} is not "
                                    f"{{\"items\": [...], \"next_cursor\": ...}}: {str(body)[:120]}")
            self.land_page(body["items"], source, skip)
            cursor = body["next_cursor"]
            if not body["items"] or cursor is None:
                return
            if cursor in seen:
                raise ApiError(f"{self.contract.name}: {source} returned a cursor already followed")
            seen.add(cursor)
            params["cursor"] = cursor

    def pull_open311(self) -> None:
        """Page 1 after the watermark, again and again; the page number only grows while a
        whole page shares the watermark's timestamp."""
        page, anchor, skip = 1, self.state.watermark, Counter(self.state.ties)
        while True:
            params = {"updated_after": iso(anchor or EPOCH), "page": page, "page_size": self.page_size}
            body, source = self.http.get_json(self.url, params)
            if not isinstance(body, list):
                raise MalformedPage(f"{self.contract.name}: {source} is not a JSON list of "
                                    f"service requests: {str(body)[:120]}")
            self.land_page(body, source, skip)
            if len(body) < self.page_size:
                return
            if self.state.watermark != anchor:
                page, anchor, skip = 1, self.state.watermark, Counter(self.state.ties)
            else:
                page += 1


def pull(
    contract: Contract,
    settings: Settings | None = None,
    *,
    base_url: str | None = None,
    page_size: int | None = None,
    retry: RetryPolicy | None = None,
) -> list[LandResult]:
    """Pull everything after the dataset's watermark into bronze (one batch per page).

    One pull per dataset at a time (its DAG runs with ``max_active_runs=1``): two overlapping
    pulls would each write ahead over the other's page. A server whose filter is strict
    (``>``) also works: the watermark's ties are then simply never sent again."""
    settings = settings or get_settings()
    kind = contract.source.kind
    if kind not in (SourceKind.api, SourceKind.open311):
        raise ValueError(f"{contract.name}: source kind '{kind.value}' is not an API")
    url = base_url_for(contract, settings, base_url) + contract.source.location
    policy = retry or RetryPolicy()
    size = int(page_size or contract.source.options.get("page_size", DEFAULT_PAGE_SIZE))
    headers = {"Accept": "application/json", "User-Agent": "quang-ninh-ioc-lakehouse"}
    with httpx.Client(timeout=policy.timeout, headers=headers) as client:
        run = _Run(contract, settings, _Http(client, policy, contract.name), url, size,
                   read_state(contract.name, settings))
        run.finish_pending()  # a previous run stopped between writing ahead and advancing
        run.pull_open311() if kind is SourceKind.open311 else run.pull_rest()
    return run.results
