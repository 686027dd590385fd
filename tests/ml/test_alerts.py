"""Forecast alerts reach their department once: a real HTTP sink receives the posts, Delta
records the deliveries, and re-runs, new alerts and failing endpoints behave."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pyarrow as pa
import pytest

from lakehouse.lake import delta
from lakehouse.lake.paths import Tier, table_uri
from lakehouse.ml.alerts import DELIVERIES, route_alerts
from lakehouse.settings import get_settings, reset_settings_cache


class _Sink(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, str, dict]]] = []
    fail_paths: ClassVar[set[str]] = set()

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path in self.fail_paths:
            self.send_response(503)
        else:
            type(self).received.append((self.path, self.headers["Idempotency-Key"], body))
            self.send_response(202)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def sink():
    _Sink.received, _Sink.fail_paths = [], set()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Sink
    server.shutdown()


def _alert(key: str, owner: str) -> dict:
    return {"alert_key": key, "alert_type": key.split(":")[0], "series_id": "x", "alert_level": 1,
            "severity": 2, "predicted_breach_at": datetime(2026, 11, 26, 3, tzinfo=UTC),
            "predicted_peak": 61.5, "threshold_value": 50.0, "unit_code": "193",
            "owner_department": owner, "model_version": "3"}


def _publish(settings, alerts):
    delta.replace(table_uri(Tier.gold, "forecast_alerts", settings), pa.Table.from_pylist(alerts),
                  batch_id=f"alerts-{len(alerts)}-{alerts[-1]['alert_key']}")


def test_each_alert_is_sent_once_to_its_department(lake_settings, sink, monkeypatch):
    url, received = sink
    monkeypatch.setenv("IOC_ALERT_WEBHOOKS", json.dumps({"environment": f"{url}/env", "*": f"{url}/ioc"}))
    reset_settings_cache()
    settings = get_settings()
    first = [_alert("pm25_forecast:AQ1:3:2026-11-26", "environment"),
             _alert("water_level_forecast:H1:1:2026-11-26", "hydromet")]
    _publish(settings, first)

    result = route_alerts(settings)
    assert sorted(result.sent) == sorted(a["alert_key"] for a in first)
    by_key = {key: (path, body) for path, key, body in received.received}
    assert by_key["pm25_forecast:AQ1:3:2026-11-26"][0] == "/env"  # the department's own hook
    assert by_key["water_level_forecast:H1:1:2026-11-26"][0] == "/ioc"  # the IOC-wide default
    assert by_key["pm25_forecast:AQ1:3:2026-11-26"][1]["predicted_peak"] == 61.5

    # The next forecast run predicts the same breaches again, plus one new one.
    _publish(settings, [*first, _alert("visitors_forecast:S1:1:2026-11-28", "tourism")])
    again = route_alerts(settings)
    assert again.sent == ["visitors_forecast:S1:1:2026-11-28"] and again.already_sent == 2
    assert len(received.received) == 3  # never twice
    assert route_alerts(settings).sent == []
    deliveries = delta.read(table_uri(Tier.ops, DELIVERIES, settings)).to_pylist()
    assert sorted(d["alert_key"] for d in deliveries) == sorted([*by_key, "visitors_forecast:S1:1:2026-11-28"])


def test_a_failed_post_is_retried_on_the_next_run_and_unroutable_alerts_wait(lake_settings, sink, monkeypatch):
    url, received = sink
    monkeypatch.setenv("IOC_ALERT_WEBHOOKS", json.dumps({"environment": f"{url}/env"}))
    reset_settings_cache()
    settings = get_settings()
    _publish(settings, [_alert("pm25_forecast:AQ1:4:2026-11-26", "environment"),
                        _alert("visitors_forecast:S1:1:2026-11-26", "tourism")])
    received.fail_paths = {"/env"}
    result = route_alerts(settings)
    assert list(result.failed) == ["pm25_forecast:AQ1:4:2026-11-26"] and result.sent == []
    assert result.unroutable == ["visitors_forecast:S1:1:2026-11-26"]  # no hook for tourism: kept
    received.fail_paths = set()
    assert route_alerts(settings).sent == ["pm25_forecast:AQ1:4:2026-11-26"]
    assert [key for _, key, _ in received.received] == ["pm25_forecast:AQ1:4:2026-11-26"]
