"""Every query lands in ``ops.query_audit`` once: allowed or denied, finished, failed or
canceled, across a clean shutdown and across a crash of the spool."""

from __future__ import annotations

import json
import shutil
import time

import pytest
import requests
import trino
from deltalake import DeltaTable
from trino.exceptions import TrinoUserError

from lakehouse.gateway import SqlGateway
from lakehouse.gateway.audit import AuditEntry, AuditLog
from tests.gateway.conftest import gateway_settings, query_all


def _audit(lake) -> list[dict]:
    return DeltaTable(str(lake / "ops" / "query_audit")).to_pyarrow_table().to_pylist()


def test_every_query_is_audited_and_a_clean_shutdown_commits_the_rest(fixture_lake, fixture_etc, tmp_path):
    lake = tmp_path / "lake"
    shutil.copytree(fixture_lake, lake)
    settings = gateway_settings(lake, fixture_etc, tmp_path / "spool", sql_gateway_audit_flush_s=3600)
    gateway = SqlGateway(settings, port=0).start()
    port = int(gateway.url.rsplit(":", 1)[1])
    ana = trino.dbapi.connect(host="127.0.0.1", port=port, user="ana", catalog="lake", schema="gold",
                              source="audit-test")
    assert query_all(ana, "SELECT count(*) FROM people WHERE unit_code = '193'") == [[2]]
    with pytest.raises(TrinoUserError):
        query_all(ana, "SELECT * FROM lake.silver.hidden")
    with pytest.raises(TrinoUserError):
        query_all(ana, "SELEC 1")
    headers = {"X-Trino-User": "admin", "X-Trino-Catalog": "lake", "X-Trino-Schema": "gold"}
    first = requests.post(f"{gateway.url}/v1/statement", data="SELECT * FROM readings", headers=headers,
                          timeout=10).json()
    requests.delete(first["nextUri"], headers=headers, timeout=10)
    # An abandoned query (never fetched) is ended and audited by the shutdown.
    requests.post(f"{gateway.url}/v1/statement", data="SELECT id FROM readings", headers=headers, timeout=10)
    assert not (lake / "ops" / "query_audit").exists()  # nothing committed yet: batched
    gateway.stop()

    rows = {r["query"]: r for r in _audit(lake)}
    assert len(rows) == 5
    ok = rows["SELECT count(*) FROM people WHERE unit_code = '193'"]
    assert (ok["user"], ok["state"], ok["allowed"], ok["rows"], ok["tables"], ok["source"]) == (
        "ana", "FINISHED", True, 1, ["lake.gold.people"], "audit-test")
    assert ok["client_address"] == "127.0.0.1" and ok["elapsed_ms"] >= 0 and ok["principal"] is None
    denied = rows["SELECT * FROM lake.silver.hidden"]
    assert (denied["allowed"], denied["state"], denied["error_name"], denied["rows"]) == (
        False, "FAILED", "PERMISSION_DENIED", 0)
    assert rows["SELEC 1"]["error_name"] == "SYNTAX_ERROR" and rows["SELEC 1"]["allowed"] is True
    canceled = rows["SELECT * FROM readings"]
    assert (canceled["state"], canceled["error_name"]) == ("CANCELED", "USER_CANCELED")
    assert rows["SELECT id FROM readings"]["error_name"] == "SERVER_SHUTTING_DOWN"
    assert not list((tmp_path / "spool").glob("*.jsonl"))


def test_the_audit_is_committed_in_the_background_while_serving(fixture_lake, fixture_etc, tmp_path):
    lake = tmp_path / "lake"
    shutil.copytree(fixture_lake, lake)
    with SqlGateway(gateway_settings(lake, fixture_etc, tmp_path / "spool"), port=0) as gateway:
        connection = trino.dbapi.connect(host="127.0.0.1", port=int(gateway.url.rsplit(":", 1)[1]), user="ana",
                                         catalog="lake", schema="gold")
        query_all(connection, "SELECT 1")
        deadline = time.monotonic() + 10
        while not list((lake / "ops" / "query_audit" / "_delta_log").glob("*.json")):
            assert time.monotonic() < deadline, "audit never committed"
            time.sleep(0.1)
        assert [r["query"] for r in _audit(lake)] == ["SELECT 1"]
        # The IOC reads the audit like any ops table (an admin here: the fixture rules).
        admin = trino.dbapi.connect(host="127.0.0.1", port=int(gateway.url.rsplit(":", 1)[1]), user="admin",
                                    catalog="lake", schema="ops")
        assert query_all(admin, "SELECT user FROM query_audit") == [["ana"]]


def _entry(query: str) -> AuditEntry:
    return AuditEntry(query_id=query, started_at=time.time(), finished_at=time.time(), user="ana",
                      principal=None, source=None, client_address=None, catalog="lake", schema="gold", query=query)


def test_a_spool_left_by_a_crash_is_committed_once_at_start(tmp_path):
    uri = str(tmp_path / "lake" / "ops" / "query_audit")
    spool = tmp_path / "spool"
    crashed = AuditLog(uri, spool)
    crashed.spool_dir.mkdir(parents=True)
    crashed.record(_entry("q1"))
    crashed.record(_entry("q2"))
    segment = next(spool.glob("*.jsonl"))
    saved = segment.read_text()
    with segment.open("a") as torn:  # the process died mid-line
        torn.write('{"query_id": "q3", "start')
    crashed._file.close()  # the crash: nothing committed, the spool left behind

    recovered = AuditLog(uri, spool)
    recovered.start()
    recovered.close()
    assert sorted(r["query"] for r in DeltaTable(uri).to_pyarrow_table().to_pylist()) == ["q1", "q2"]
    # Committed but the spool file survived (crash between commit and delete): skipped by batch id.
    segment.write_text(saved)
    again = AuditLog(uri, spool)
    again.start()
    again.close()
    assert len(DeltaTable(uri).to_pyarrow_table()) == 2
    assert json.loads(saved.splitlines()[0])["query"] == "q1"


def test_the_demo_service_starts_and_a_sigterm_stop_commits_the_audit(fixture_lake, fixture_etc, tmp_path):
    import socket

    from lakehouse.gateway.service import start_gateway, stop_gateway

    lake = tmp_path / "lake"
    shutil.copytree(fixture_lake, lake)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = gateway_settings(lake, fixture_etc, tmp_path / "spool", sql_gateway_port=port,
                                sql_gateway_audit_flush_s=3600)
    url = start_gateway(settings)
    try:
        connection = trino.dbapi.connect(host="127.0.0.1", port=port, user="ana", catalog="lake", schema="gold")
        assert query_all(connection, "SELECT count(*) FROM people") == [[6]]
    finally:
        assert stop_gateway(settings)
    assert url.endswith(str(port))
    assert [r["query"] for r in _audit(lake)] == ["SELECT count(*) FROM people"]
