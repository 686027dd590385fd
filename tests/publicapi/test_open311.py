"""The public Open311 API over real HTTP, on a lake built by the real pipeline from the
generator's Open311 source: reports appear with their latest status, a status changed at the
source shows after the next run, filters and paging agree with the source, errors are in the
spec's shape, no response carries a personal value, and schemathesis finds nothing wrong
with the published schema."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path
from xml.etree import ElementTree as ET

import polars as pl
import pytest

from lakehouse.lake import delta
from lakehouse.lake.paths import Tier, table_uri
from lakehouse.publicapi import withheld_columns
from lakehouse.simulators.feeds import instant

pytestmark = pytest.mark.slow
WIDE = {"start_date": "2000-01-01T00:00:00Z", "end_date": "2100-01-01T00:00:00Z"}
COMPARED = ("status", "status_notes", "agency_responsible", "service_code", "service_name", "media_url")


def _get(citizens, path: str, **params):
    response = citizens.client.get(path, params=params)
    assert response.headers["content-type"].endswith("charset=utf-8"), path
    return response


def _all(citizens, fmt: str = "json", page_size: int = 1000, **params) -> list[dict]:
    """Every page of /requests.<fmt>, following rel="next"; as dicts of text for XML."""
    rows, page = [], 1
    while True:
        response = _get(citizens, f"/requests.{fmt}", page=page, page_size=page_size, **params)
        assert response.status_code == 200, response.text
        rows += response.json() if fmt == "json" else [
            {child.tag: child.text for child in item} for item in ET.fromstring(response.content)]
        if "link" not in response.headers:
            assert len(rows) == int(response.headers["x-total-count"])
            return rows
        assert f"page={page + 1}" in response.headers["link"]
        page += 1


def _same_instant(served: str | None, source: str | None) -> bool:
    """The served time (whole seconds, as the spec's examples) is the source's instant."""
    if source is None:
        return served is None
    return datetime.fromisoformat(served) == instant(source).replace(microsecond=0)


def test_every_report_appears_with_its_latest_status(citizens):
    records = citizens.source_records()
    served = {r["service_request_id"]: r for r in _all(citizens, **WIDE)}
    assert set(served) == {r["service_request_id"] for r in records}
    for record in records:
        row = served[record["service_request_id"]]
        assert {k: row[k] for k in COMPARED} == {k: record[k] for k in COMPARED}
        for name in ("requested_datetime", "updated_datetime", "expected_datetime"):
            assert _same_instant(row[name], record[name]), (name, row[name], record[name])
        assert (row["lat"], row["long"]) == pytest.approx((record["lat"], record["long"]))
        assert row["requested_datetime"].endswith("+07:00")  # ISO 8601 with the province's offset

    # One report by its id, in both formats: the same fields, the same values.
    record = records[len(records) // 2]
    [one] = _get(citizens, f"/requests/{record['service_request_id']}.json").json()
    assert one == served[record["service_request_id"]]
    xml = _get(citizens, f"/requests/{record['service_request_id']}.xml")
    assert xml.content.startswith(b"<?xml") and xml.headers["content-type"].startswith("text/xml")
    [element] = ET.fromstring(xml.content).findall("request")
    assert {c.tag: c.text for c in element} == {k: None if v is None else str(v) for k, v in one.items()}


def test_an_updated_status_shows_up_after_the_next_run(citizens):
    before = {r["service_request_id"]: r for r in _all(citizens, status="open", **WIDE)}
    target = min(before)
    changed = citizens.simulator.update_request(target, status="closed", status_notes="Đã thay bóng đèn mới.")
    # The department changed it; the public sees the lake, which has not run yet.
    [still] = _get(citizens, f"/requests/{target}.json").json()
    assert still["status"] == "open"

    citizens.next_run()

    [now] = _get(citizens, f"/requests/{target}.json").json()
    assert (now["status"], now["status_notes"]) == ("closed", "Đã thay bóng đèn mới.")
    assert _same_instant(now["updated_datetime"], changed["updated_datetime"])
    assert now["agency_responsible"] == before[target]["agency_responsible"]
    assert target in {r["service_request_id"] for r in _all(citizens, status="closed", **WIDE)}
    assert target not in {r["service_request_id"] for r in _all(citizens, status="open", **WIDE)}


def test_filters_and_paging(citizens):
    everything = _all(citizens, **WIDE)
    # With no dates, GeoReport's default window (the last 90 days) holds every recent report.
    assert sorted(r["service_request_id"] for r in _all(citizens)) == sorted(r["service_request_id"] for r in everything)

    codes = sorted({r["service_code"] for r in everything})[:2]
    picked = _all(citizens, service_code=",".join(codes), status="closed", **WIDE)
    assert picked and {r["service_request_id"] for r in picked} == {
        r["service_request_id"] for r in everything if r["service_code"] in codes and r["status"] == "closed"}

    ordered = sorted(everything, key=lambda r: datetime.fromisoformat(r["requested_datetime"]))
    start, end = ordered[len(ordered) // 4]["requested_datetime"], ordered[len(ordered) // 2]["requested_datetime"]
    window = _all(citizens, start_date=start, end_date=end)
    lo, hi = datetime.fromisoformat(start), datetime.fromisoformat(end)
    assert {r["service_request_id"] for r in window} == {
        r["service_request_id"] for r in everything if lo <= datetime.fromisoformat(r["requested_datetime"]) <= hi}

    ids = [next(r["service_request_id"] for r in everything if r["status"] == s) for s in ("open", "closed")]
    chosen = _all(citizens, service_request_id=",".join(ids), status="open")
    assert sorted(r["service_request_id"] for r in chosen) == sorted(ids)  # ids override the other filters

    # Pages of 7, followed by rel="next": the same reports in the same order, none twice.
    paged = _all(citizens, page_size=7, **WIDE)
    assert [r["service_request_id"] for r in paged] == [r["service_request_id"] for r in everything]
    assert len(paged) > 7 * 3
    times = [datetime.fromisoformat(r["requested_datetime"]) for r in paged]
    assert times == sorted(times, reverse=True)  # newest first
    beyond = _get(citizens, "/requests.json", page=10_000, page_size=7, **WIDE)
    assert beyond.status_code == 200 and beyond.json() == [] and "link" not in beyond.headers
    # XML pages carry the same requests.
    assert [r["service_request_id"] for r in _all(citizens, "xml", page_size=50, **WIDE)] == \
        [r["service_request_id"] for r in everything]


def test_errors_are_in_open311_shape(citizens):
    missing = _get(citizens, "/requests/QN-000000-0000.json")
    assert missing.status_code == 404
    [error] = missing.json()
    assert error["code"] == 404 and "QN-000000-0000" in error["description"]
    xml = _get(citizens, "/requests/QN-000000-0000.xml")
    assert xml.status_code == 404
    root = ET.fromstring(xml.content)
    assert root.tag == "errors" and root.find("error/code").text == "404"

    for params in ({"start_date": "last tuesday"}, {"status": "lost"}, {"service_code": "teleport"},
                   {"page": 0}, {"page_size": 5000}):
        bad = _get(citizens, "/requests.json", **params)
        assert bad.status_code == 400, params
        assert [e["code"] for e in bad.json()] == [400] and bad.json()[0]["description"], params
    assert _get(citizens, "/requests.csv").status_code == 400
    assert _get(citizens, "/no/such/thing.json").json()[0]["code"] == 404

    for method in ("POST", "PUT", "PATCH", "DELETE"):
        refused = citizens.client.request(method, "/requests.json", json={"service_code": "pothole"})
        assert refused.status_code == 405 and refused.headers["allow"] == "GET, HEAD", method
        assert refused.json()[0]["code"] == 405
    head = citizens.client.head("/requests.json", params=WIDE)
    assert head.status_code == 200 and head.content == b"" and int(head.headers["x-total-count"]) > 0


def test_no_response_carries_personal_data(citizens):
    """Every endpoint, both formats, every page, every report by id, errors too: no value the
    generator put in a personal column appears, in clear or as silver's hash."""
    clear = citizens.clear_personal_values()
    assert len(clear) > 300, "the generator should have produced personal data to protect"
    silver = pl.from_arrow(delta.read(table_uri(Tier.silver, citizens.contract.name, citizens.settings)))
    withheld = withheld_columns(citizens.contract)
    hashed = {v for c in withheld for v in silver[c].drop_nulls().cast(pl.String) if len(v) >= 16}
    assert hashed, "silver should hold hashed identifiers the API must withhold"

    bodies: list[str] = []
    ids = [r["service_request_id"] for r in _all(citizens, **WIDE)]
    for fmt in ("json", "xml"):
        bodies.append(_get(citizens, f"/services.{fmt}").text)
        page = 1
        while True:
            response = _get(citizens, f"/requests.{fmt}", page=page, page_size=20, **WIDE)
            bodies.append(response.text)
            if "link" not in response.headers:
                break
            page += 1
        bodies += [_get(citizens, f"/requests/{i}.{fmt}").text for i in ids]
        bodies.append(_get(citizens, f"/requests/nope.{fmt}").text)
        bodies.append(_get(citizens, f"/requests.{fmt}", status="open", **WIDE).text)
    bodies += [citizens.client.get(path).text for path in ("/openapi.json", "/opendata/catalog.json")]
    assert len(bodies) > 2 * len(ids)

    everything = "\n".join(bodies)
    leaked = sorted(v for v in clear | hashed if v in everything)
    assert not leaked, f"personal data in a public response: {leaked[:3]}"
    # The personal Open311 fields are served, masked: present, never in clear.
    served = _all(citizens, **WIDE)
    assert {r["description"] for r in served} == {"***"}
    assert all(r["address"] is None or (len(r["address"]) == 4 and r["address"].endswith("***")) for r in served)
    assert not {"email", "phone"} & set(served[0])


def test_open_data_is_served_with_checksums_that_match(citizens):
    import hashlib

    catalog = citizens.client.get("/opendata/catalog.json")
    assert catalog.status_code == 200
    datasets = catalog.json()["dcat:dataset"]
    assert datasets, "admin units (silver and its marts) are public"
    assert citizens.contract.name not in {d["dct:identifier"].split(".")[1] for d in datasets}
    for dataset in datasets:
        for distribution in dataset["dcat:distribution"]:
            url = distribution["dcat:downloadURL"]["@id"]
            assert url.startswith(citizens.url + "/opendata/"), url
            body = citizens.client.get(url)
            assert body.status_code == 200, url
            assert hashlib.sha256(body.content).hexdigest() == distribution["spdx:checksum"]["spdx:checksumValue"]
            assert len(body.content) == int(distribution["dcat:byteSize"]["@value"])
    assert citizens.client.get(f"/opendata/gold/{citizens.contract.name}.csv").status_code == 404


def test_schemathesis_finds_no_failures(citizens, tmp_path: Path):
    """Every check schemathesis has (server errors, status codes, content types, response
    schemas, headers, negative data rejected, unsupported methods…) over the live server,
    positive and negative cases, from the published /openapi.json."""
    st = Path(sys.executable).with_name("st")
    done = subprocess.run(
        [str(st), "run", f"{citizens.url}/openapi.json", "--checks", "all", "--mode", "all",
         "--max-examples", "40", "--seed", "311", "--no-color", "--report-dir", str(tmp_path / "report")],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    summary = done.stdout[-3000:]
    assert done.returncode == 0, summary
    assert "No issues found" in done.stdout, summary
    assert "3 selected / 3 total" in done.stdout, summary
