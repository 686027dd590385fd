"""Transport sources: 5-minute TrafficFlowObserved messages (MQTT, NGSI-LD) and the
incident table of the transport department's PostgreSQL database.

Flow follows :func:`patterns.traffic_profile` (morning and evening peaks, flatter
weekends); occupancy and speed answer to volume, so congestion shows at the peaks.
Incidents cluster at busy hours; floods, landslides and fallen trees rise in the typhoon
season.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from lakehouse.contracts import Contract
from lakehouse.generate.context import Built, GenContext, Part, round_float
from lakehouse.generate.ngsi import entity_type
from lakehouse.generate.patterns import is_typhoon_season, is_weekend, traffic_profile
from lakehouse.generate.places import phone, point_near, random_unit
from lakehouse.generate.sites import ROADS, traffic_devices

STEP_MINUTES = 5
CITY_STREETS = (
    "Đường Hạ Long",
    "Đường 25/4",
    "Đường Nguyễn Văn Cừ",
    "Đường Trần Hưng Đạo",
    "Đường Lê Thánh Tông",
    "Đường Cao Xanh",
)
INCIDENT_TYPES = (
    "collision",
    "breakdown",
    "congestion",
    "roadwork",
    "flooding",
    "landslide",
    "fallen_tree",
)
INCIDENT_WEIGHTS = np.array([0.36, 0.25, 0.15, 0.1, 0.05, 0.02, 0.07])
TYPHOON_WEIGHTS = np.array([0.25, 0.15, 0.1, 0.05, 0.22, 0.08, 0.15])


def traffic_flow_observed(ctx: GenContext, contract: Contract) -> Built:
    rng = ctx.rng(contract.name)
    etype = entity_type(contract)
    per_day = 24 * 60 // STEP_MINUTES
    n = ctx.days * per_day
    hours = (np.arange(n) % per_day) * STEP_MINUTES / 60.0
    profile = np.concatenate(
        [traffic_profile(hours[:per_day], is_weekend(day)) for day in ctx.dates]
    )
    profile = profile / traffic_profile(np.array([17.5]), weekend=False)[0]
    times = [ctx.at(ctx.start) + timedelta(minutes=STEP_MINUTES * i) for i in range(n)]
    stamps = [t.isoformat() for t in times]
    devices = traffic_devices(ctx)
    series = {}
    for device in devices:
        expected = device.capacity * profile * rng.lognormal(0.0, 0.1, n)
        intensity = rng.poisson(expected)
        occupancy = np.clip(
            (intensity / (device.capacity * 1.3)) ** 1.4 + rng.normal(0, 0.015, n), 0.0, 1.0
        )
        speed = np.clip(
            device.free_speed * (1 - 0.75 * occupancy**2) * rng.normal(1.0, 0.05, n), 3.0, 150.0
        )
        congested = (occupancy > 0.45) | (speed < 0.4 * device.free_speed)
        series[device.code] = (intensity, occupancy, speed, congested)
    rows = []
    for i, moment in enumerate(times):
        for device in devices:
            intensity, occupancy, speed, congested = series[device.code]
            rows.append(
                {
                    "_device": device.code,
                    "entity_id": f"urn:ngsi-ld:{etype}:{device.code}:{stamps[i]}",
                    "device_id": device.code,
                    "road_segment": device.road_segment,
                    "date_observed": moment,
                    "intensity": int(intensity[i]),
                    "occupancy": round_float(occupancy[i], 3),
                    "average_vehicle_speed": round_float(speed[i], 1),
                    "congested": bool(congested[i]),
                    "lon": device.lon,
                    "lat": device.lat,
                }
            )
    return Built([Part(f"mqtt/{contract.name}.jsonl", rows)])


def traffic_incidents(ctx: GenContext, contract: Contract) -> Built:
    rng = ctx.rng(contract.name)
    hour_weights = traffic_profile(np.arange(24) + 0.5, weekend=False)
    hour_weights = hour_weights / hour_weights.sum()
    roads = [r[1] for r in ROADS] + list(CITY_STREETS)
    end = ctx.at(ctx.last_day, 23, 59, 59)
    rows = []
    for day in ctx.dates:
        weights = TYPHOON_WEIGHTS if is_typhoon_season(day) else INCIDENT_WEIGHTS
        count = int(rng.poisson(10 * ctx.scale))
        moments = sorted(
            ctx.at(
                day,
                int(rng.choice(24, p=hour_weights)),
                int(rng.integers(60)),
                int(rng.integers(60)),
            )
            for _ in range(count)
        )
        for seq, occurred in enumerate(moments, start=1):
            kind = INCIDENT_TYPES[int(rng.choice(len(INCIDENT_TYPES), p=weights / weights.sum()))]
            severity = int(
                rng.choice(
                    [1, 2, 3, 4],
                    p=[0.3, 0.4, 0.22, 0.08] if kind == "collision" else [0.6, 0.3, 0.08, 0.02],
                )
            )
            unit = random_unit(rng, day)
            lon, lat = point_near(rng, unit.lon, unit.lat)
            injuries = int(rng.poisson(0.3 + 0.6 * severity)) if kind == "collision" else 0
            fatalities = int(rng.poisson(0.7)) if kind == "collision" and severity == 4 else 0
            age_hours = (end - occurred).total_seconds() / 3600
            status = (
                "cleared"
                if age_hours > 8 or rng.random() < 0.4
                else str(rng.choice(["reported", "dispatched", "on_scene"]))
            )
            updated = min(
                end,
                occurred
                + timedelta(minutes=int(rng.integers(5, 360 if status == "cleared" else 60))),
            )
            rows.append(
                {
                    "incident_id": int(f"{day:%Y%m%d}{seq:04d}"),
                    "occurred_at": occurred,
                    "incident_type": kind,
                    "severity": severity,
                    "road_name": roads[int(rng.integers(len(roads)))]
                    if rng.random() < 0.95
                    else None,
                    "lon": lon,
                    "lat": lat,
                    "unit_code": unit.code if rng.random() < 0.97 else None,
                    "injuries": injuries,
                    "fatalities": fatalities,
                    "status": status,
                    "reporter_phone": phone(rng) if rng.random() < 0.7 else None,
                    "updated_at": updated,
                    "is_deleted": bool(rng.random() < 0.02),
                }
            )
    return Built([Part(f"db/{contract.name}.jsonl", rows)])
