"""Route each forecast alert to its department once.

``gold.forecast_alerts`` (dbt) holds what the newest forecasts predict; this module posts every
alert whose ``alert_key`` has no delivery yet to the owning department's webhook and records
the delivery in ``ops.alert_deliveries``. The same breach predicted by the next run keeps its
key, so it is not sent again; a failed post is not recorded and is retried on the next run.

Each post carries ``Idempotency-Key: <alert_key>``: if the process dies between a successful
post and its record, the retry is recognisable as the same alert by the receiver.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa

from lakehouse.lake import delta
from lakehouse.lake.paths import Tier, storage_options, table_uri
from lakehouse.settings import Settings, get_settings

log = logging.getLogger(__name__)
ALERTS = "forecast_alerts"
DELIVERIES = "alert_deliveries"
DELIVERY_SCHEMA = pa.schema([
    ("alert_key", pa.string()), ("owner_department", pa.string()), ("channel", pa.string()),
    ("endpoint", pa.string()), ("delivered_at", pa.timestamp("us", tz="UTC")), ("http_status", pa.int32()),
])


@dataclass
class RoutingResult:
    sent: list[str] = field(default_factory=list)
    already_sent: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    unroutable: list[str] = field(default_factory=list)  # no endpoint for the department


def endpoint_for(department: str | None, settings: Settings) -> str | None:
    """The department's webhook, else the IOC-wide one (``"*"``), else none."""
    hooks = settings.alert_webhooks
    return hooks.get(department or "") or hooks.get("*")


def _delivered(settings: Settings) -> set[str]:
    uri = table_uri(Tier.ops, DELIVERIES, settings)
    if delta.try_open(uri, storage_options(settings)) is None:
        return set()
    return set(delta.read(uri, columns=["alert_key"], storage_options=storage_options(settings))
               .column("alert_key").to_pylist())


def _payload(alert: dict) -> dict:
    keep = ("alert_key", "alert_type", "series_id", "alert_level", "severity", "predicted_breach_at",
            "predicted_peak", "predicted_peak_hi_80", "threshold_value", "unit_code", "lon", "lat",
            "owner_department", "model_version", "issued_at")
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in alert.items() if k in keep}


def route_alerts(settings: Settings | None = None, *, client=None) -> RoutingResult:
    """Post every undelivered alert; returns what was sent, skipped and failed."""
    import httpx

    settings = settings or get_settings()
    result = RoutingResult()
    uri = table_uri(Tier.gold, ALERTS, settings)
    if delta.try_open(uri, storage_options(settings)) is None:
        log.info("no gold.%s yet: nothing to route", ALERTS)
        return result
    alerts = delta.read(uri, storage_options=storage_options(settings)).to_pylist()
    done = _delivered(settings)
    own_client = client is None
    client = client or httpx.Client(timeout=10.0)
    records = []
    try:
        for alert in sorted(alerts, key=lambda a: a["alert_key"]):
            key = alert["alert_key"]
            if key in done:
                result.already_sent += 1
                continue
            endpoint = endpoint_for(alert.get("owner_department"), settings)
            if endpoint is None:
                result.unroutable.append(key)
                continue
            try:
                response = client.post(endpoint, content=json.dumps(_payload(alert), ensure_ascii=False),
                                       headers={"Content-Type": "application/json", "Idempotency-Key": key})
                response.raise_for_status()
            except httpx.HTTPError as exc:
                result.failed[key] = str(exc)
                log.warning("alert %s to %s failed (retried next run): %s", key, endpoint, exc)
                continue
            records.append({"alert_key": key, "owner_department": alert.get("owner_department"),
                            "channel": "webhook", "endpoint": endpoint,
                            "delivered_at": datetime.now(UTC), "http_status": response.status_code})
            result.sent.append(key)
    finally:
        if own_client:
            client.close()
        if records:  # recorded even when a later post raised: what was sent stays sent
            delta.merge(table_uri(Tier.ops, DELIVERIES, settings),
                        pa.Table.from_pylist(records, schema=DELIVERY_SCHEMA), keys=["alert_key"],
                        batch_id=f"alert-deliveries:{uuid.uuid4().hex}",  # the merge on alert_key is the dedup
                        configuration=None, storage_options=storage_options(settings))
    return result
