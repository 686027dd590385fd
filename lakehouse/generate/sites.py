"""The fixed things events happen at: tourist sites, hotels, monitoring stations, traffic
counters and cameras. Scale 1 is a hand-written list of real Quảng Ninh places (names and
rough coordinates only); higher scales add numbered places in random districts.

Every fleet is a pure function of (seed, scale), so the registry datasets and the
observation datasets agree on codes and coordinates even when generated separately. A
place's ``home`` is its pre-2025 district code; :func:`places.unit_for` maps it to the
unit valid on a given day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from lakehouse.generate.context import GenContext
from lakehouse.generate.places import centroid, point_near

#: Day whose district centroids place generated extras (the last day before the reform).
_DISTRICT_DAY = date(2025, 6, 30)
_DISTRICTS = (
    "193",
    "194",
    "195",
    "196",
    "198",
    "199",
    "200",
    "201",
    "202",
    "203",
    "205",
    "206",
    "207",
)


@dataclass(frozen=True)
class Site:
    code: str
    name: str
    home: str
    lon: float
    lat: float
    domestic: float  # domestic visitors on an ordinary day
    intl_share: float
    spend_vnd: int  # revenue per visitor


@dataclass(frozen=True)
class Station:
    """A sensor or monitoring station; fields not relevant to a kind keep their defaults."""

    code: str
    name: str
    home: str
    lon: float
    lat: float
    coal: bool = False  # near the Cẩm Phả open-pit coal mines
    river: str = ""
    base_cm: float = 0.0
    alarms: tuple[int, int, int] = (0, 0, 0)
    tidal: bool = False
    road_segment: str = ""
    road_name: str = ""
    capacity: float = 0.0  # vehicles per 5 minutes at the evening peak
    free_speed: float = 0.0
    coastal: bool = True


@dataclass(frozen=True)
class Hotel:
    code: str
    name: str
    home: str
    lon: float
    lat: float
    stars: int
    rooms: int
    rate_vnd: float


@dataclass(frozen=True)
class Camera:
    code: str
    name: str
    purpose: str
    home: str
    lon: float
    lat: float
    road_segment: str | None


SITES = (
    ("Vịnh Hạ Long", "193", 107.08, 20.91, 9000, 0.45, 750_000),
    ("Đảo Tuần Châu", "193", 106.99, 20.93, 4000, 0.25, 400_000),
    ("Sun World Hạ Long", "193", 107.03, 20.96, 6000, 0.20, 550_000),
    ("Bãi tắm Bãi Cháy", "193", 107.05, 20.955, 5000, 0.10, 50_000),
    ("Bảo tàng Quảng Ninh", "193", 107.09, 20.95, 1200, 0.15, 40_000),
    ("Khu di tích Yên Tử", "196", 106.72, 21.15, 3500, 0.05, 300_000),
    ("Khu di tích nhà Trần Đông Triều", "205", 106.55, 21.10, 800, 0.02, 80_000),
    ("Bãi biển Trà Cổ", "194", 108.03, 21.47, 2000, 0.15, 150_000),
    ("Vịnh Bái Tử Long", "203", 107.50, 20.98, 1500, 0.30, 600_000),
    ("Đảo Quan Lạn", "203", 107.55, 20.90, 900, 0.10, 350_000),
    ("Đảo Cô Tô", "207", 107.77, 20.98, 1100, 0.05, 500_000),
    ("Bãi cọc Bạch Đằng", "206", 106.82, 20.92, 600, 0.03, 30_000),
    ("Đền Cửa Ông", "195", 107.36, 21.03, 1500, 0.02, 50_000),
    ("Sống lưng khủng long Bình Liêu", "198", 107.43, 21.56, 500, 0.01, 100_000),
)

AIR = (
    ("Trạm quan trắc Bãi Cháy", "193", 107.04, 20.955, False),
    ("Trạm quan trắc Hồng Gai", "193", 107.09, 20.955, False),
    ("Trạm quan trắc Cẩm Phả - Cửa Ông", "195", 107.35, 21.03, True),
    ("Trạm quan trắc Mông Dương", "195", 107.33, 21.07, True),
    ("Trạm quan trắc Uông Bí", "196", 106.78, 21.04, False),
    ("Trạm quan trắc Móng Cái", "194", 107.96, 21.52, False),
    ("Trạm quan trắc Quảng Yên", "206", 106.81, 20.935, False),
    ("Trạm quan trắc Cô Tô", "207", 107.77, 20.98, False),
)

ROADS = (  # segment, road name, home, lon, lat, peak vehicles / 5 min, free-flow km/h
    ("QL18-BC", "Quốc lộ 18 - đoạn Bãi Cháy", "193", 107.02, 20.97, 260, 60),
    ("HL-TQN", "Đường Trần Quốc Nghiễn", "193", 107.10, 20.96, 180, 50),
    ("CT-HLVD", "Cao tốc Hạ Long - Vân Đồn", "193", 107.20, 21.00, 220, 100),
    ("QL18-CP", "Quốc lộ 18 - đoạn Cẩm Phả", "195", 107.29, 21.01, 200, 60),
    ("QL18-UB", "Quốc lộ 18 - đoạn Uông Bí", "196", 106.77, 21.04, 190, 60),
    ("QL18-MC", "Quốc lộ 18 - đoạn Móng Cái", "194", 107.95, 21.52, 120, 60),
    ("QL279-HB", "Quốc lộ 279 - Hoành Bồ", "193", 107.03, 21.08, 90, 60),
    ("CT-HLHP", "Cao tốc Hạ Long - Hải Phòng", "206", 106.85, 20.95, 240, 100),
)

TIDE_AMPLITUDE_CM = 105  # diurnal + semi-diurnal tide at the tidal stations

HYDRO = (  # name, river, home, lon, lat, base level cm, tidal
    ("Trạm thủy văn Móng Cái", "Sông Ka Long", "194", 107.95, 21.51, 120, True),
    ("Trạm thủy văn Tiên Yên", "Sông Tiên Yên", "199", 107.40, 21.33, 180, False),
    ("Trạm thủy văn Ba Chẽ", "Sông Ba Chẽ", "202", 107.28, 21.27, 220, False),
    ("Trạm thủy văn Diễn Vọng", "Sông Diễn Vọng", "193", 107.13, 21.03, 150, True),
    ("Trạm thủy văn Uông Bí", "Sông Đá Bạc", "196", 106.76, 21.03, 130, True),
    ("Trạm thủy văn Quảng Yên", "Sông Bạch Đằng", "206", 106.80, 20.93, 110, True),
    ("Trạm thủy văn Đông Triều", "Sông Kinh Thầy", "205", 106.56, 21.07, 160, False),
    ("Trạm thủy văn Hà Cối", "Sông Hà Cối", "201", 107.73, 21.45, 200, False),
)

WATER = (  # name, home, lon, lat, coastal
    ("Điểm quan trắc Bãi Cháy", "193", 107.05, 20.95, True),
    ("Điểm quan trắc Vịnh Hạ Long - Hòn Gai", "193", 107.08, 20.94, True),
    ("Điểm quan trắc Cửa Ông", "195", 107.37, 21.02, True),
    ("Điểm quan trắc Trà Cổ", "194", 108.02, 21.47, True),
    ("Điểm quan trắc Cô Tô", "207", 107.77, 20.97, True),
    ("Điểm quan trắc sông Bạch Đằng", "206", 106.80, 20.94, False),
)

CAMERAS = (  # name, purpose, home, lon, lat, road segment index (or None)
    ("Camera nút giao Cái Lân", "traffic", "193", 107.03, 20.97, 0),
    ("Camera ngã tư Loong Toòng", "traffic", "193", 107.10, 20.96, 1),
    ("Camera quảng trường 30/10", "security", "193", 107.09, 20.955, None),
    ("Camera Quốc lộ 18 Cẩm Phả", "traffic", "195", 107.29, 21.01, 3),
    ("Camera bến tàu Tuần Châu", "tourism", "193", 106.99, 20.93, None),
    ("Camera bãi tắm Bãi Cháy", "tourism", "193", 107.05, 20.955, None),
    ("Camera cửa khẩu Móng Cái", "security", "194", 107.97, 21.53, None),
    ("Camera đê biển Quảng Yên", "flood", "206", 106.82, 20.93, None),
    ("Camera cầu Tiên Yên", "flood", "199", 107.40, 21.33, None),
    ("Camera chợ Hạ Long I", "security", "193", 107.08, 20.955, None),
    ("Camera cao tốc Hạ Long - Vân Đồn", "traffic", "193", 107.20, 21.00, 2),
    ("Camera khu di tích Yên Tử", "tourism", "196", 106.72, 21.15, None),
)

HOTEL_PREFIX = ("Khách sạn", "Khách sạn", "Khu nghỉ dưỡng", "Nhà nghỉ", "Căn hộ du lịch")
HOTEL_WORDS = (
    "Hoàng Gia",
    "Biển Xanh",
    "Ngọc Trai",
    "Hải Âu",
    "Sao Mai",
    "Hoa Sen",
    "Phương Đông",
    "Bình Minh",
    "Rồng Vàng",
    "Thiên Đường",
    "Hướng Dương",
    "Sóng Biển",
)
HOTEL_PLACES = {
    "193": ("Bãi Cháy", "Hạ Long", "Hòn Gai", "Tuần Châu"),
    "194": ("Trà Cổ", "Móng Cái"),
    "203": ("Vân Đồn", "Quan Lạn"),
    "207": ("Cô Tô",),
    "196": ("Uông Bí", "Yên Tử"),
    "195": ("Cẩm Phả",),
}
HOTEL_HOMES = ("193",) * 12 + ("194", "194", "203", "203", "207", "196", "196", "195")


def _extra_place(ctx: GenContext, stream: str, index: int) -> tuple[str, float, float]:
    rng = ctx.rng(f"{stream}:{index}")
    home = _DISTRICTS[int(rng.integers(len(_DISTRICTS)))]
    lon, lat = point_near(rng, *centroid(home, _DISTRICT_DAY))
    return home, lon, lat


def tourist_sites(ctx: GenContext) -> list[Site]:
    sites = [Site(f"DL{i + 1:03d}", *spec) for i, spec in enumerate(SITES)]
    for i in range(len(SITES), len(SITES) * ctx.scale):
        home, lon, lat = _extra_place(ctx, "fleet:sites", i)
        sites.append(
            Site(
                f"DL{i + 1:03d}",
                f"Điểm du lịch cộng đồng số {i + 1}",
                home,
                lon,
                lat,
                300,
                0.03,
                60_000,
            )
        )
    return sites


def air_stations(ctx: GenContext) -> list[Station]:
    stations = [
        Station(f"AQ{i + 1:02d}", n, h, lon, lat, coal=c)
        for i, (n, h, lon, lat, c) in enumerate(AIR)
    ]
    for i in range(len(AIR), min(len(AIR) * ctx.scale, 99)):
        home, lon, lat = _extra_place(ctx, "fleet:air", i)
        stations.append(
            Station(
                f"AQ{i + 1:02d}",
                f"Trạm quan trắc tự động số {i + 1}",
                home,
                lon,
                lat,
                coal=home == "195",
            )
        )
    return stations


def traffic_devices(ctx: GenContext) -> list[Station]:
    """Four counters at scale 1 (5-minute messages add up fast), more roads with scale."""
    devices = []
    for i in range(4 * ctx.scale):
        seg, road, home, lon, lat, capacity, speed = ROADS[i % len(ROADS)]
        lap = i // len(ROADS) + 1
        rng = ctx.rng(f"fleet:traffic:{i}")
        lon, lat = point_near(rng, lon, lat, 0.01) if lap > 1 else (lon, lat)
        devices.append(
            Station(
                f"TF{i + 1:03d}",
                f"Bộ đếm xe {road} #{lap}",
                home,
                lon,
                lat,
                road_segment=f"{seg}-{lap:02d}",
                road_name=road,
                capacity=capacity,
                free_speed=speed,
            )
        )
    return devices


def hydro_stations(ctx: GenContext) -> list[Station]:
    stations = []
    for i in range(min(len(HYDRO) * ctx.scale, 99)):
        if i < len(HYDRO):
            name, river, home, lon, lat, base, tidal = HYDRO[i]
        else:
            home, lon, lat = _extra_place(ctx, "fleet:hydro", i)
            name, river, base, tidal = (
                f"Trạm thủy văn số {i + 1}",
                f"Sông nhánh số {i + 1}",
                150,
                False,
            )
        crest = base + (TIDE_AMPLITUDE_CM if tidal else 0)  # alarms sit above ordinary high water
        alarms = (int(crest + 150), int(crest + 250), int(crest + 350))
        stations.append(
            Station(
                f"TV{i + 1:02d}",
                name,
                home,
                lon,
                lat,
                river=river,
                base_cm=base,
                alarms=alarms,
                tidal=tidal,
            )
        )
    return stations


def water_stations(ctx: GenContext) -> list[Station]:
    stations = [
        Station(f"NN{i + 1:02d}", n, h, lon, lat, coastal=c)
        for i, (n, h, lon, lat, c) in enumerate(WATER)
    ]
    for i in range(len(WATER), min(len(WATER) * ctx.scale, 99)):
        home, lon, lat = _extra_place(ctx, "fleet:water", i)
        stations.append(
            Station(f"NN{i + 1:02d}", f"Điểm quan trắc số {i + 1}", home, lon, lat, coastal=False)
        )
    return stations


def hotels(ctx: GenContext) -> list[Hotel]:
    rng = ctx.rng("fleet:hotels")
    found = []
    for i in range(20 * ctx.scale):
        home = HOTEL_HOMES[int(rng.integers(len(HOTEL_HOMES)))]
        place = HOTEL_PLACES[home][int(rng.integers(len(HOTEL_PLACES[home])))]
        prefix = HOTEL_PREFIX[int(rng.integers(len(HOTEL_PREFIX)))]
        word = HOTEL_WORDS[int(rng.integers(len(HOTEL_WORDS)))]
        stars = (
            0 if prefix in ("Nhà nghỉ", "Căn hộ du lịch") else int(rng.choice([2, 3, 3, 4, 4, 5]))
        )
        rooms = (
            int(rng.integers(10, 40))
            if stars == 0
            else int(rng.integers(30, 120) * (1 + stars) // 2)
        )
        rate = float(round(250_000 + stars * 350_000 * rng.uniform(0.7, 1.4), -3))
        lon, lat = point_near(rng, *centroid(home, _DISTRICT_DAY))
        found.append(
            Hotel(f"KS{i + 1:04d}", f"{prefix} {word} {place}", home, lon, lat, stars, rooms, rate)
        )
    return found


def cameras(ctx: GenContext) -> list[Camera]:
    found = []
    for i in range(len(CAMERAS) * ctx.scale):
        if i < len(CAMERAS):
            name, purpose, home, lon, lat, road = CAMERAS[i]
            segment = f"{ROADS[road][0]}-01" if road is not None else None
        else:
            home, lon, lat = _extra_place(ctx, "fleet:cameras", i)
            purpose = ("traffic", "security", "flood", "tourism")[i % 4]
            name, segment = f"Camera giám sát số {i + 1}", None
        found.append(Camera(f"CAM-{i + 1:04d}", name, purpose, home, lon, lat, segment))
    return found
