"""Registries: cameras (VMS JSON export), IoT devices (FIWARE Device JSON export) and the
administrative-units seed (a byte copy of the CSV shipped with the platform).

Registries are snapshots: their unit codes are the ones valid on the run's last day.
Device ids are the short codes the observations reference (``AQ01``, ``TF001``, ``TV01``,
``NN01``), so joins need no URN handling.
"""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from lakehouse.contracts import Contract
from lakehouse.generate.context import Built, GenContext, Part, landing_file
from lakehouse.generate.places import unit_for
from lakehouse.generate.sites import (
    air_stations,
    cameras,
    hydro_stations,
    traffic_devices,
    water_stations,
)
from lakehouse.reference import admin_units_csv

#: Cameras with recorded video at scale 1 (the first ones of the registry).
VIDEO_CAMERAS_PER_SCALE = 4
DIRECTIONS = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")  # where the camera looks


def _installed(rng: np.random.Generator) -> date:
    return date(2019, 1, 1) + timedelta(days=int(rng.integers(0, 6 * 365)))


def camera_registry(ctx: GenContext, contract: Contract) -> Built:
    rng = ctx.rng(contract.name)
    rows = []
    for i, cam in enumerate(cameras(ctx)):
        video = i < VIDEO_CAMERAS_PER_SCALE * ctx.scale
        rows.append(
            {
                "camera_id": cam.code,
                "name": cam.name,
                "purpose": cam.purpose,
                "unit_code": unit_for(cam.home, cam.lon, cam.lat, ctx.last_day).code,
                "road_segment": cam.road_segment,
                "lon": cam.lon,
                "lat": cam.lat,
                "stream_url": f"rtsp://10.20.{i // 250}.{i % 250 + 1}:554/Streaming/Channels/101",
                "stream_kind": "rtsp",
                "direction": DIRECTIONS[i % len(DIRECTIONS)],
                "installed_on": _installed(rng),
                "status": "online"
                if video
                else str(rng.choice(["online", "offline", "maintenance"], p=[0.85, 0.1, 0.05])),
            }
        )
    file = landing_file(contract, f"{contract.name}.json")
    protect = {(0, i) for i in range(min(len(rows), VIDEO_CAMERAS_PER_SCALE * ctx.scale))}
    return Built([Part(file, rows)], protect=protect)


def sensor_registry(ctx: GenContext, contract: Contract) -> Built:
    rng = ctx.rng(contract.name)
    fleets = (
        ("air_quality", air_stations(ctx)),
        ("traffic", traffic_devices(ctx)),
        ("water_level", hydro_stations(ctx)),
        ("water_quality", water_stations(ctx)),
    )
    allowed = contract.column("category").checks.allowed_values
    rows = []
    for category, fleet in fleets:
        if allowed and category not in allowed:
            continue
        for station in fleet:
            rows.append(
                {
                    "device_id": station.code,
                    "category": category,
                    "name": station.name,
                    "unit_code": unit_for(
                        station.home, station.lon, station.lat, ctx.last_day
                    ).code,
                    "lon": station.lon,
                    "lat": station.lat,
                    "installed_on": _installed(rng),
                    "status": str(
                        rng.choice(["active", "inactive", "maintenance"], p=[0.9, 0.04, 0.06])
                    ),
                }
            )
    return Built([Part(landing_file(contract, f"{contract.name}.json"), rows)])


def admin_units(ctx: GenContext, contract: Contract) -> Built:
    """The seed, copied byte for byte; never spoiled."""
    source = Path(admin_units_csv())
    file = f"landing/{contract.source.system}/{contract.name}/incoming/{source.name}"
    data = source.read_bytes()
    ctx.write_bytes(file, data)
    rows = list(csv.DictReader(data.decode("utf-8").splitlines()))
    return Built([Part(file, rows)], written=True, inject_defects=False)
