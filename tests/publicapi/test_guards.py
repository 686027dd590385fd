"""What the public API may serve follows the contract; the rate limit and the read-only rule
hold over real HTTP (a uvicorn server in a thread, on a lake with nothing in it yet)."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
import uvicorn

from lakehouse.contracts import PiiAction, PiiClass
from lakehouse.publicapi.app import create_app, request_model
from lakehouse.publicapi.fields import open311_contract, served_fields, withheld_columns
from lakehouse.publicapi.guards import TokenBuckets
from lakehouse.settings import Settings


def _with_pii(contract, **classes):
    columns = [c.model_copy(update={"pii": PiiClass(classes[c.name])}) if c.name in classes else c
               for c in contract.columns]
    return contract.model_copy(update={"columns": columns})


def test_served_fields_follow_the_contract(catalog):
    contract = open311_contract(catalog)
    fields = served_fields(contract)
    by_column = {c.name: c for c in contract.columns}
    # Hashed and dropped columns never leave; masked ones leave masked; wire names are the source's.
    assert set(withheld_columns(contract)) >= {c.name for c in contract.columns
                                               if c.effective_pii_action in (PiiAction.hash, PiiAction.drop)}
    assert {f.name for f in fields if f.masked} == {f.name for f in fields
                                                     if by_column[f.name].effective_pii_action is PiiAction.mask}
    assert all(f.wire == (by_column[f.name].source_name or f.name) for f in fields)
    assert "long" in {f.wire for f in fields}

    # Reclassify in the contract, and the API follows with no code change.
    stricter = served_fields(_with_pii(contract, status_notes="direct_id", agency_responsible="contact"))
    assert "status_notes" not in {f.name for f in stricter}
    assert [f.masked for f in stricter if f.name == "agency_responsible"] == [True]
    with pytest.raises(ValueError, match="service_request_id"):
        served_fields(_with_pii(contract, service_request_id="direct_id"))

    # The published schema has exactly the served fields, and refuses any other.
    schema = request_model(fields).model_json_schema()
    assert list(schema["properties"]) == [f.wire for f in fields]
    assert schema["additionalProperties"] is False


def test_token_bucket_refills_at_its_rate():
    now = [0.0]
    buckets = TokenBuckets(rate_per_second=2.0, burst=3, clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)  # empty: half a second to the next token
    assert buckets.take("b") == 0.0  # another client has its own bucket
    now[0] += 1.0  # two tokens back
    assert [buckets.take("a") for _ in range(2)] == [0.0, 0.0]
    assert buckets.take("a") > 0
    with pytest.raises(ValueError):
        TokenBuckets(rate_per_second=0, burst=1)


@pytest.fixture
def limited(tmp_path, catalog):
    """The API with a burst of 3 and 60 requests a minute, served by uvicorn on a free port."""
    settings = Settings(lake_root=str(tmp_path / "lake"), opendata_dir=str(tmp_path / "opendata"),
                        public_api_rate_per_minute=60, public_api_burst=3)
    config = uvicorn.Config(create_app(settings, catalog), host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        yield client
    server.should_exit = True
    thread.join(timeout=10)


def test_a_client_over_its_rate_gets_429_with_retry_after(limited, catalog):
    codes = open311_contract(catalog).column("service_code").checks.allowed_values
    first = limited.get("/services.json")
    assert first.status_code == 200
    assert [s["service_code"] for s in first.json()] == codes  # the contract's services, before any report
    assert limited.get("/requests.json").json() == []  # nothing in gold yet: nothing to show, no error
    assert limited.get("/requests/QN-1.json").status_code == 404
    refused = limited.get("/requests.xml")
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.content.startswith(b"<?xml") and b"<code>429</code>" in refused.content
    assert limited.post("/requests.json").status_code == 429  # writes are throttled too, before refused
    assert all(limited.get("/health").status_code == 200 for _ in range(5))  # probes are not throttled
    time.sleep(1.1)  # one token back
    assert limited.get("/services.json").status_code == 200
    assert limited.get("/services.json").status_code == 429


def test_a_clear_value_in_gold_still_leaves_masked(tmp_path, catalog):
    """Gold has no personal data by construction; if it ever did, the API masks it anyway."""
    from datetime import UTC, datetime

    import pyarrow as pa

    from lakehouse.lake import delta
    from lakehouse.lake.paths import table_uri
    from lakehouse.publicapi.store import RequestQuery, RequestStore

    settings = Settings(lake_root=str(tmp_path / "lake"))
    contract = open311_contract(catalog)
    at = datetime(2026, 12, 1, 1, 2, 3, tzinfo=UTC)
    row = {"service_request_id": "QN-1", "service_code": "streetlight", "status": "open",
           "requested_datetime": at, "updated_datetime": at, "lon": 107.1, "lat": 20.9,
           "address": "Số 12 đường Trần Phú", "description": "Nguyễn Văn An báo đèn hỏng",
           "phone": "0912345678", "email": "an@example.com"}
    delta.replace(table_uri("gold", contract.name, settings), pa.Table.from_pylist([row]), batch_id="clear")
    store = RequestStore(contract, settings)
    [served] = store.select(store.current(), RequestQuery(ids=("QN-1",))).rows
    assert (served["address"], served["description"]) == ("S***", "***")
    assert "phone" not in served and "email" not in served
    assert served["requested_datetime"] == "2026-12-01T08:02:03+07:00"  # the province's offset
    assert served["long"] == 107.1 and served["status_notes"] is None  # a column gold lacks is null
