"""Calendar and daily shapes shared by the builders, kept in one place so that the plots
the IOC shows (summer peak, weekend bumps, rush hours, dry-season haze) tell one story."""

from __future__ import annotations

from datetime import date

import numpy as np

#: Visitors relative to an ordinary day, by month: summer holidays peak, Tết in February.
TOURISM_MONTH = {
    1: 0.55,
    2: 0.8,
    3: 0.6,
    4: 0.9,
    5: 1.1,
    6: 1.6,
    7: 1.75,
    8: 1.6,
    9: 0.9,
    10: 0.8,
    11: 0.7,
    12: 0.7,
}
WEEKDAY_TOURISM = (0.9, 0.85, 0.85, 0.9, 1.1, 1.45, 1.35)  # Monday .. Sunday


def tourism_factor(day: date) -> float:
    return TOURISM_MONTH[day.month] * WEEKDAY_TOURISM[day.weekday()]


def is_dry_season(day: date) -> bool:
    """North-east monsoon: November to April, when haze and dust build up."""
    return day.month >= 11 or day.month <= 4


def is_typhoon_season(day: date) -> bool:
    return 7 <= day.month <= 9


def is_weekend(day: date) -> bool:
    return day.weekday() >= 5


def traffic_profile(hours: np.ndarray, weekend: bool) -> np.ndarray:
    """Relative traffic by hour of day (float hours): quiet nights, a morning peak around
    7:30 and a larger evening peak around 17:30; flatter at weekends."""
    base = 0.08 + 0.55 * np.exp(-(((hours - 12.5) / 4.5) ** 2))
    morning = np.exp(-(((hours - 7.5) / 1.0) ** 2))
    evening = np.exp(-(((hours - 17.5) / 1.2) ** 2))
    if weekend:
        return base * 1.1 + 0.35 * morning + 0.6 * evening
    return base + 0.85 * morning + 1.0 * evening


def pollution_profile(hours: np.ndarray) -> np.ndarray:
    """Relative PM by hour: rush-hour emissions plus a night-time inversion."""
    return (
        0.8
        + 0.35 * np.exp(-(((hours - 7.5) / 1.5) ** 2))
        + 0.45 * np.exp(-(((hours - 19.0) / 2.0) ** 2))
        + 0.2 * np.exp(-(((hours - 2.0) / 2.0) ** 2))
    )
