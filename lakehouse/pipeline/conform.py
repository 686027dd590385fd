"""Placing rows on the province's map as it was on the day of the event.

A row with coordinates (``lon``/``lat``, WGS84) gets the ``unit_code`` of the administrative
unit in force on its event date (local calendar, Asia/Ho_Chi_Minh) whose centroid is
nearest. Units carry validity dates (:mod:`lakehouse.reference`), so a point in Hoành Bồ is
in Hoành Bồ district before 2019-10-01, in Hạ Long city until the 2025-07-01 reform and in
the new Hoành Bồ ward after it.

Why nearest centroid and not point-in-polygon: the official boundary polygons are not
published as open data we can ship; the reference carries centroids only. A polygon layer
would replace :func:`nearest_units` and nothing else.

A row without coordinates keeps the unit code its department sent (if the contract has one).
A registry without an event time (cameras, sensors) is placed as of its arrival.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import numpy as np
import polars as pl

from lakehouse.contracts import Contract
from lakehouse.reference import admin_units

LON, LAT, UNIT = "lon", "lat", "unit_code"


def is_geolocated(contract: Contract) -> bool:
    names = {c.name for c in contract.columns}
    return LON in names and LAT in names


def added_columns(contract: Contract) -> list[str]:
    """Columns silver has that the contract's delivery does not."""
    return [UNIT] if is_geolocated(contract) and UNIT not in {c.name for c in contract.columns} else []


def _periods(units: pl.DataFrame) -> list[tuple[date, date | None]]:
    """Intervals over which the set of units does not change."""
    bounds = sorted({d for d in units["valid_from"].to_list() + units["valid_to"].to_list() if d is not None})
    return [(start, end) for start, end in zip(bounds, [*bounds[1:], None], strict=True)]


@lru_cache(maxsize=1)
def _units_below_province() -> pl.DataFrame:
    """The shipped reference, read once per process (it changes only with a release)."""
    return admin_units().filter(pl.col("level") != "province")


def nearest_units(lon: np.ndarray, lat: np.ndarray, days: np.ndarray) -> np.ndarray:
    """The code of the unit in force on ``days[i]`` nearest to (lon[i], lat[i]); None if unplaced."""
    units = _units_below_province()
    out = np.full(len(lon), None, dtype=object)
    for start, end in _periods(units):
        in_force = units.filter((pl.col("valid_from") <= start) & (pl.col("valid_to").is_null()
                                                                      | (pl.col("valid_to") > start)))
        if in_force.is_empty():
            continue
        mask = (days >= np.datetime64(start)) & ((days < np.datetime64(end)) if end else True)
        mask &= ~(np.isnan(lon) | np.isnan(lat))
        if not mask.any():
            continue
        # Plain degrees, as the reference's centroids were placed (cos(21°) would shift few points).
        dx = lon[mask, None] - in_force["centroid_lon"].to_numpy()[None, :]
        dy = lat[mask, None] - in_force["centroid_lat"].to_numpy()[None, :]
        out[mask] = in_force["unit_code"].to_numpy()[np.argmin(dx * dx + dy * dy, axis=1)]
    return out


def event_day(frame: pl.DataFrame, contract: Contract, timezone: str) -> pl.Series:
    """The local calendar date of each row's event (or of its arrival, for registries)."""
    column = contract.event_time if contract.event_time in frame.columns else "_ingested_at"
    values = frame[column]
    if values.dtype == pl.Date:
        return values
    if isinstance(values.dtype, pl.Datetime):
        if values.dtype.time_zone is None:
            values = values.dt.replace_time_zone("UTC")
        return values.dt.convert_time_zone(timezone).dt.date()
    raise TypeError(f"{contract.name}.{column} is {values.dtype}, not a date or timestamp")


def attach_units(frame: pl.DataFrame, contract: Contract, timezone: str = "Asia/Ho_Chi_Minh") -> pl.DataFrame:
    """``unit_code`` from the location at the event date (the delivered code where there is none)."""
    if not is_geolocated(contract) or frame.is_empty():
        return frame if not added_columns(contract) else frame.with_columns(pl.lit(None, pl.String).alias(UNIT))
    days = event_day(frame, contract, timezone).cast(pl.Date).to_numpy().astype("datetime64[D]")
    placed = nearest_units(frame[LON].cast(pl.Float64).fill_null(np.nan).to_numpy(),
                           frame[LAT].cast(pl.Float64).fill_null(np.nan).to_numpy(), days)
    located = pl.Series(UNIT, placed.tolist(), dtype=pl.String)
    if UNIT in frame.columns:
        located = pl.coalesce(located, frame[UNIT].cast(pl.String)).alias(UNIT)
    return frame.with_columns(located)
