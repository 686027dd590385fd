"""Where events happen: administrative units valid on the event date, points near them,
and synthetic Vietnamese people (names, phones, citizen ids; never real persons).

Units come from :func:`lakehouse.reference.units_valid_on`, so events after the
2025-07-01 reform carry the provisional 250xx ward/commune codes and earlier ones the
district-level codes 193..207.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np

from lakehouse.reference import units_valid_on

SPREAD = 0.03  # degrees around a unit centroid

#: How often events happen in a unit, relative to a rural district (domain guess: the
#: cities, Hạ Long above all, dominate). Codes absent here weigh 1.
UNIT_WEIGHTS = {
    "193": 6.0,
    "195": 3.0,
    "194": 2.5,
    "196": 2.0,
    "205": 1.5,
    "206": 1.5,
    "203": 1.5,
    "25001": 1.5,
    "25002": 1.5,
    "25003": 1.5,
    "25004": 1.2,
    "25005": 1.0,
    "25006": 1.0,
    "25007": 1.2,
    "25008": 1.0,
    "25009": 0.8,
    "25010": 2.5,
    "25011": 2.0,
    "25012": 1.5,
    "25013": 1.5,
    "25019": 1.5,
}


@dataclass(frozen=True)
class Unit:
    code: str
    name_vi: str
    level: str
    lon: float
    lat: float


@lru_cache(maxsize=512)
def units_on(day: date) -> tuple[Unit, ...]:
    """Units below the province in force on ``day``, in code order."""
    frame = units_valid_on(day).sort("unit_code")
    return tuple(
        Unit(r["unit_code"], r["name_vi"], r["level"], r["centroid_lon"], r["centroid_lat"])
        for r in frame.iter_rows(named=True)
    )


def nearest_unit(lon: float, lat: float, day: date) -> Unit:
    return min(units_on(day), key=lambda u: (u.lon - lon) ** 2 + (u.lat - lat) ** 2)


def unit_for(home: str, lon: float, lat: float, day: date) -> Unit:
    """The unit a fixed place (site, station, hotel) belongs to on ``day``: its home
    district while that exists, else the unit with the nearest centroid (post-reform)."""
    for unit in units_on(day):
        if unit.code == home:
            return unit
    return nearest_unit(lon, lat, day)


def random_unit(rng: np.random.Generator, day: date) -> Unit:
    units = units_on(day)
    weights = np.array([UNIT_WEIGHTS.get(u.code, 1.0) for u in units])
    return units[int(rng.choice(len(units), p=weights / weights.sum()))]


def point_near(
    rng: np.random.Generator, lon: float, lat: float, spread: float = SPREAD
) -> tuple[float, float]:
    return (
        round(lon + float(rng.uniform(-spread, spread)), 5),
        round(lat + float(rng.uniform(-spread, spread)), 5),
    )


def centroid(code: str, day: date) -> tuple[float, float]:
    for unit in units_on(day):
        if unit.code == code:
            return unit.lon, unit.lat
    raise KeyError(f"unit {code} is not valid on {day}")


# --- synthetic people -------------------------------------------------------------------

SURNAMES = (
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Vũ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Ngô",
    "Dương",
    "Lý",
)
SURNAME_WEIGHTS = np.array([38, 11, 9, 7, 5, 4, 3, 3, 3, 2, 2, 1], dtype=float)
MIDDLE = {
    "M": ("Văn", "Đức", "Minh", "Hữu", "Quang", "Thành"),
    "F": ("Thị", "Ngọc", "Thu", "Thanh", "Minh", "Hồng"),
}
GIVEN = {
    "M": (
        "An",
        "Bình",
        "Cường",
        "Dũng",
        "Hải",
        "Hùng",
        "Long",
        "Nam",
        "Quân",
        "Tuấn",
        "Sơn",
        "Khoa",
        "Phúc",
        "Đạt",
    ),
    "F": (
        "Anh",
        "Hà",
        "Hạnh",
        "Hoa",
        "Lan",
        "Linh",
        "Mai",
        "Phương",
        "Thảo",
        "Trang",
        "Yến",
        "Ngân",
        "Hương",
        "Nhung",
    ),
}
MOBILE_PREFIXES = ("09", "09", "09", "08", "03", "07")
PROVINCE_ID_PREFIX = "022"  # Quảng Ninh in the 12-digit citizen id


def sex(rng: np.random.Generator) -> str:
    return "M" if rng.random() < 0.5 else "F"


def full_name(rng: np.random.Generator, sex_code: str | None = None) -> str:
    sex_code = sex_code or sex(rng)
    surname = SURNAMES[int(rng.choice(len(SURNAMES), p=SURNAME_WEIGHTS / SURNAME_WEIGHTS.sum()))]
    middle = MIDDLE[sex_code][int(rng.integers(len(MIDDLE[sex_code])))]
    given = GIVEN[sex_code][int(rng.integers(len(GIVEN[sex_code])))]
    return f"{surname} {middle} {given}"


def phone(rng: np.random.Generator) -> str:
    prefix = MOBILE_PREFIXES[int(rng.integers(len(MOBILE_PREFIXES)))]
    return prefix + "".join(str(d) for d in rng.integers(0, 10, size=8))


def citizen_id(rng: np.random.Generator, birth_year: int, sex_code: str) -> str:
    """12 digits: province code, century/sex digit, birth year, six random digits."""
    century = 0 if birth_year < 2000 else 2
    digit = century + (1 if sex_code == "F" else 0)
    tail = "".join(str(d) for d in rng.integers(0, 10, size=6))
    return f"{PROVINCE_ID_PREFIX}{digit}{birth_year % 100:02d}{tail}"


def ascii_slug(text: str) -> str:
    """``Nguyễn Văn An`` → ``nguyenvanan`` (for synthetic e-mail addresses)."""
    plain = unicodedata.normalize("NFD", text.replace("Đ", "D").replace("đ", "d"))
    return "".join(ch for ch in plain if ch.isascii() and ch.isalnum()).lower()
