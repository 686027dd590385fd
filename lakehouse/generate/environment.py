"""Environment sources: air quality (MQTT, NGSI-LD), river water levels (REST API),
coastal/river water quality (CP1258 CSV) and the hydrological station registry (CSV).

Shapes: PM2.5 highest at the stations by the Cẩm Phả coal mines and in the dry season
(Nov–Apr) with rush-hour and night-inversion bumps; rain falls in storms, more and
heavier in the typhoon season (Jul–Sep), and rivers answer through a unit hydrograph so
that a few storms cross alarm level I, typhoons level II or III.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from lakehouse.contracts import Contract
from lakehouse.generate.context import Built, GenContext, Part, landing_file, round_float
from lakehouse.generate.ngsi import entity_type
from lakehouse.generate.patterns import (
    is_dry_season,
    is_typhoon_season,
    pollution_profile,
    traffic_profile,
)
from lakehouse.generate.places import unit_for
from lakehouse.generate.sites import TIDE_AMPLITUDE_CM, air_stations, water_stations
from lakehouse.generate.sites import hydro_stations as hydro_fleet

MONTH_TEMPERATURE = {
    1: 16,
    2: 17,
    3: 19.5,
    4: 23.5,
    5: 27,
    6: 29,
    7: 29.5,
    8: 29,
    9: 28,
    10: 25.5,
    11: 21.5,
    12: 18,
}
RAIN_DAY_PROBABILITY = {
    1: 0.1,
    2: 0.15,
    3: 0.2,
    4: 0.25,
    5: 0.3,
    6: 0.38,
    7: 0.45,
    8: 0.5,
    9: 0.4,
    10: 0.25,
    11: 0.12,
    12: 0.08,
}


def _hours(ctx: GenContext) -> tuple[list, np.ndarray, np.ndarray]:
    """Every hour of the run: datetimes, hour of day, season flags per hour."""
    times = [ctx.at(day, h) for day in ctx.dates for h in range(24)]
    hour = np.array([t.hour for t in times], dtype=float)
    dry = np.array([is_dry_season(t.date()) for t in times])
    return times, hour, dry


def _ar1(rng: np.random.Generator, n: int, phi: float, sigma: float) -> np.ndarray:
    shocks = rng.normal(0.0, sigma, n)
    out = np.empty(n)
    level = 0.0
    for i in range(n):
        level = phi * level + shocks[i]
        out[i] = level
    return out


def air_quality_observed(ctx: GenContext, contract: Contract) -> Built:
    rng = ctx.rng(contract.name)
    etype = entity_type(contract)
    times, hour, dry = _hours(ctx)
    n = len(times)
    season = np.where(dry, 1.6, 0.75)
    temp_mean = np.array([MONTH_TEMPERATURE[t.month] for t in times], dtype=float)
    traffic = traffic_profile(hour, weekend=False)
    sunshine = np.clip(np.sin((hour - 6.0) / 13.0 * np.pi), 0.0, None)
    stations = air_stations(ctx)
    series = {}
    for station in stations:
        base = 55.0 if station.coal else (12.0 if station.home == "207" else 26.0)
        noise = np.exp(_ar1(rng, n, 0.85, 0.12))
        pm25 = base * season * pollution_profile(hour) * noise
        series[station.code] = {
            "pm25": pm25,
            "pm10": pm25 * (1.9 if station.coal else 1.55) * rng.lognormal(0.0, 0.08, n),
            "so2": (38.0 if station.coal else 7.0) * season * rng.lognormal(0.0, 0.3, n),
            "no2": 14.0 * (0.4 + traffic) * rng.lognormal(0.0, 0.2, n),
            "co": (550.0 + 350.0 * traffic) * rng.lognormal(0.0, 0.15, n),
            "o3": (25.0 + 75.0 * sunshine) * np.where(dry, 0.8, 1.1) * rng.lognormal(0.0, 0.12, n),
            "temperature": temp_mean
            + 3.5 * np.sin((hour - 9.0) / 24.0 * 2 * np.pi)
            + rng.normal(0, 0.5, n),
            "relative_humidity": np.clip(
                0.8 - 0.12 * np.sin((hour - 9.0) / 24.0 * 2 * np.pi) + rng.normal(0, 0.03, n),
                0.3,
                0.99,
            ),
            "gap": rng.random(n),
        }
    rows = []
    pollutants = ("pm25", "pm10", "no2", "so2", "co", "o3")
    for i, moment in enumerate(times):
        for station in stations:
            s = series[station.code]
            missing = (
                pollutants[int(s["gap"][i] * 1000) % len(pollutants)]
                if s["gap"][i] < 0.01
                else None
            )
            row = {
                "_device": station.code,
                "entity_id": f"urn:ngsi-ld:{etype}:{station.code}:{moment.isoformat()}",
                "station_code": station.code,
                "date_observed": moment,
            }
            for name in pollutants:
                row[name] = None if name == missing else round_float(s[name][i], 1)
            row["temperature"] = round_float(s["temperature"][i], 1)
            row["relative_humidity"] = round_float(s["relative_humidity"][i], 2)
            row["lon"], row["lat"] = station.lon, station.lat
            rows.append(row)
    return Built([Part(f"mqtt/{contract.name}.jsonl", rows)])


def rain_by_hour(ctx: GenContext) -> np.ndarray:
    """Province-wide hourly rain (mm): afternoon storms, plus typhoons in Jul–Sep.
    One shared stream ("weather") so every station sees the same storms."""
    rng = ctx.rng("weather")
    rain = np.zeros(ctx.days * 24 + 48)
    for d, day in enumerate(ctx.dates):
        if is_typhoon_season(day) and rng.random() < 0.02:  # one or two typhoons a season
            total, start, length = (
                rng.uniform(220, 400),
                int(rng.integers(0, 24)),
                int(rng.integers(18, 36)),
            )
        elif rng.random() < RAIN_DAY_PROBABILITY[day.month]:
            total, start, length = (
                rng.gamma(0.9, 28.0),
                int(rng.integers(12, 20)),
                int(rng.integers(2, 7)),
            )
        else:
            continue
        shape = np.sin(np.linspace(0.2, np.pi - 0.2, length))
        rain[d * 24 + start : d * 24 + start + length] += total * shape / shape.sum()
    return rain[: ctx.days * 24]


def water_levels(ctx: GenContext, contract: Contract) -> Built:
    rng = ctx.rng(contract.name)
    times, _, _ = _hours(ctx)
    n = len(times)
    t = np.arange(n, dtype=float) + (ctx.start - date(2025, 1, 1)).days * 24
    rain = rain_by_hour(ctx)
    tau = 6.0
    k = np.arange(72, dtype=float)
    hydrograph = k / tau**2 * np.exp(-k / tau)
    wet = np.array([5 <= m.month <= 10 for m in times])
    stations = hydro_fleet(ctx)
    series = {}
    for station in stations:
        local_rain = rain * rng.uniform(0.7, 1.3) * rng.lognormal(0.0, 0.25, n)
        response = np.convolve(local_rain, hydrograph)[:n]
        tide = TIDE_AMPLITUDE_CM * (
            0.76 * np.sin(2 * np.pi * t / 24.84) + 0.24 * np.sin(2 * np.pi * t / 12.42)
        )
        gain = rng.uniform(24, 32)  # cm of rise per mm/h of routed rain
        level = (
            station.base_cm
            + 30.0 * wet
            + tide * station.tidal
            + gain * response
            + _ar1(rng, n, 0.9, 2.0)
        )
        series[station.code] = (level, local_rain)
    rows = []
    for i, moment in enumerate(times):
        for station in stations:
            level, local_rain = series[station.code]
            rows.append(
                {
                    "station_code": station.code,
                    "observed_at": moment,
                    "water_level_cm": round_float(level[i], 1),
                    "rainfall_mm": round_float(local_rain[i], 1),
                }
            )
    return Built([Part(f"api/{contract.source.system}/{contract.name}.json", rows)])


def water_quality_observed(ctx: GenContext, contract: Contract) -> Built:
    rng = ctx.rng(contract.name)
    rain = rain_by_hour(ctx).reshape(ctx.days, 24).sum(axis=1)
    stations = water_stations(ctx)
    by_month: dict[date, list[dict]] = {}
    for d, day in enumerate(ctx.dates):
        recent_rain = rain[max(0, d - 2) : d + 1].sum()
        for station in stations:
            sampled = ctx.at(day, int(rng.integers(8, 11)), int(rng.integers(0, 60)))
            if station.coastal:
                ph, do, turbidity, salinity = (
                    rng.normal(8.1, 0.1),
                    rng.normal(6.5, 0.5),
                    rng.lognormal(2.2, 0.4),
                    rng.normal(30, 1.5),
                )
            else:
                ph, do, turbidity, salinity = (
                    rng.normal(7.2, 0.2),
                    rng.normal(5.2, 0.6),
                    rng.lognormal(3.8, 0.4),
                    rng.normal(8, 3),
                )
            turbidity *= 1 + recent_rain / 60.0
            salinity = max(0.2, salinity - recent_rain / 20.0)
            by_month.setdefault(day.replace(day=1), []).append(
                {
                    "station_code": station.code,
                    "sampled_at": sampled,
                    "ph": round_float(ph, 2),
                    "dissolved_oxygen": round_float(max(0.5, do), 2),
                    "turbidity": round_float(turbidity, 1),
                    "temperature": round_float(
                        MONTH_TEMPERATURE[day.month] + rng.normal(0.5, 0.6), 1
                    ),
                    "salinity": round_float(salinity, 1),
                    "lon": station.lon,
                    "lat": station.lat,
                }
            )
    parts = [
        Part(landing_file(contract, f"water_quality_{month:%Y_%m}.csv"), rows)
        for month, rows in sorted(by_month.items())
    ]
    return Built(parts)


def hydro_stations(ctx: GenContext, contract: Contract) -> Built:
    """The station registry with alarm levels; units as of the run's last day."""
    rows = [
        {
            "station_code": s.code,
            "station_name": s.name,
            "river": s.river,
            "unit_code": unit_for(s.home, s.lon, s.lat, ctx.last_day).code,
            "lon": s.lon,
            "lat": s.lat,
            "alarm_1_cm": s.alarms[0],
            "alarm_2_cm": s.alarms[1],
            "alarm_3_cm": s.alarms[2],
        }
        for s in hydro_fleet(ctx)
    ]
    return Built([Part(landing_file(contract, f"{contract.name}.csv"), rows)])


__all__ = [
    "air_quality_observed",
    "hydro_stations",
    "rain_by_hour",
    "water_levels",
    "water_quality_observed",
]
