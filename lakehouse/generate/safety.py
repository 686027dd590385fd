"""Police and health sources: security incidents (MariaDB table, soft deletes) and the
weekly notifiable-disease line list (UTF-16, tab-separated CSV).

Both are confidential and full of personal data, all synthetic: names drawn from common
Vietnamese name parts, phone numbers and 12-digit citizen ids with random digits.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import numpy as np

from lakehouse.contracts import Contract
from lakehouse.generate.context import Built, GenContext, Part, landing_file
from lakehouse.generate.patterns import is_typhoon_season
from lakehouse.generate.places import citizen_id, full_name, phone, point_near, random_unit, sex

CATEGORIES = (
    "theft",
    "robbery",
    "assault",
    "fraud",
    "public_disorder",
    "drugs",
    "fire",
    "missing_person",
)
CATEGORY_WEIGHTS = np.array([0.35, 0.05, 0.1, 0.2, 0.15, 0.08, 0.04, 0.03])
SEVERITY = {
    "theft": [0.5, 0.4, 0.1, 0.0],
    "robbery": [0.1, 0.4, 0.4, 0.1],
    "assault": [0.2, 0.4, 0.3, 0.1],
    "fraud": [0.3, 0.5, 0.2, 0.0],
    "public_disorder": [0.6, 0.3, 0.1, 0.0],
    "drugs": [0.1, 0.4, 0.4, 0.1],
    "fire": [0.3, 0.3, 0.3, 0.1],
    "missing_person": [0.2, 0.5, 0.2, 0.1],
}
INCIDENT_TEXT = {
    "theft": "Mất trộm xe máy biển số 14-{a} {b}.{c} để trước cửa nhà tại {place}.",
    "robbery": "Bị giật túi xách khi đi bộ tại {place}, tài sản gồm điện thoại và {n} triệu đồng.",
    "assault": "Xô xát giữa hai nhóm người tại {place}, một người bị thương nhẹ.",
    "fraud": "Bị lừa đảo qua điện thoại, đối tượng giả danh cán bộ yêu cầu chuyển khoản {n}0 triệu đồng.",
    "public_disorder": "Nhóm thanh niên tụ tập, rú ga gây mất trật tự tại {place} lúc khuya.",
    "drugs": "Phát hiện đối tượng có biểu hiện tàng trữ trái phép chất ma túy tại {place}.",
    "fire": "Cháy kho hàng tại {place}, lực lượng PCCC đã khống chế, không có thương vong.",
    "missing_person": "Trình báo người thân {who} đi khỏi nhà từ {n} ngày trước chưa về, khu vực {place}.",
}


def security_incidents(ctx: GenContext, contract: Contract) -> Built:
    rng = ctx.rng(contract.name)
    end = ctx.at(ctx.last_day, 23, 59, 59)
    hour_weights = np.array([1.2] * 3 + [0.5] * 4 + [0.8] * 8 + [1.0] * 4 + [1.5] * 5)
    rows = []
    for day in ctx.dates:
        count = int(rng.poisson(15 * ctx.scale))
        moments = sorted(
            ctx.at(
                day,
                int(rng.choice(24, p=hour_weights / hour_weights.sum())),
                int(rng.integers(60)),
                int(rng.integers(60)),
            )
            for _ in range(count)
        )
        for seq, reported in enumerate(moments, start=1):
            category = CATEGORIES[int(rng.choice(len(CATEGORIES), p=CATEGORY_WEIGHTS))]
            online = category == "fraud" and rng.random() < 0.5  # no scene to put on a map
            unit = random_unit(rng, day)
            lon, lat = point_near(rng, unit.lon, unit.lat)
            person_sex = sex(rng)
            age_days = (end - reported).total_seconds() / 86400
            status = str(
                rng.choice(
                    ["received", "investigating", "resolved", "transferred"],
                    p=[0.3, 0.5, 0.15, 0.05] if age_days < 1 else [0.05, 0.4, 0.45, 0.1],
                )
            )
            text = INCIDENT_TEXT[category].format(
                place=unit.name_vi,
                n=int(rng.integers(2, 9)),
                who=full_name(rng),
                a=f"{chr(65 + int(rng.integers(0, 8)))}{int(rng.integers(1, 10))}",
                b=int(rng.integers(100, 999)),
                c=f"{int(rng.integers(0, 99)):02d}",
            )
            rows.append(
                {
                    "case_id": f"CA-{day:%Y}-{day.timetuple().tm_yday:03d}{seq:03d}",
                    "reported_at": reported,
                    "category": category,
                    "severity": int(rng.choice([1, 2, 3, 4], p=SEVERITY[category])),
                    "unit_code": None if online else unit.code,
                    "lon": None if online else lon,
                    "lat": None if online else lat,
                    "status": status,
                    "description": text,
                    "reporter_name": full_name(rng, person_sex),
                    "reporter_phone": phone(rng) if rng.random() < 0.9 else None,
                    "reporter_id_number": citizen_id(rng, int(rng.integers(1955, 2007)), person_sex)
                    if rng.random() < 0.8
                    else None,
                    "updated_at": min(
                        end, reported + timedelta(minutes=int(rng.integers(10, 60 * 24 * 3)))
                    ),
                    "is_deleted": bool(rng.random() < 0.015),
                }
            )
    return Built([Part(f"db/{contract.name}.jsonl", rows)])


#: ICD-10 code → (weight in the rainy season, weight in the dry season, ages, clinical note)
DISEASES = {
    "A90": (3.0, 0.8, (5, 70), "Sốt cao 39,5°C, đau đầu, đau hốc mắt, xét nghiệm NS1 dương tính."),
    "A91": (
        0.4,
        0.1,
        (5, 60),
        "Sốt xuất huyết có dấu hiệu cảnh báo, tiểu cầu giảm dưới 100.000/mm³.",
    ),
    "B08.4": (
        2.0,
        1.2,
        (1, 6),
        "Sốt, loét miệng, phát ban dạng phỏng nước ở lòng bàn tay, bàn chân.",
    ),
    "J10": (0.6, 1.8, (2, 80), "Sốt, ho, đau họng, đau mỏi người; test cúm A dương tính."),
    "J11": (0.5, 1.2, (2, 80), "Sốt, ho khan, sổ mũi, chưa xác định chủng cúm."),
    "B05": (0.2, 0.6, (0, 12), "Sốt, phát ban toàn thân, viêm kết mạc, chưa tiêm đủ mũi sởi."),
    "U07.1": (0.4, 0.6, (15, 85), "Sốt nhẹ, ho, test nhanh kháng nguyên SARS-CoV-2 dương tính."),
    "A09": (1.5, 0.8, (1, 70), "Tiêu chảy nhiều lần trong ngày, mất nước mức độ nhẹ."),
}
OUTCOMES = ("recovered", "hospitalised", "died", "unknown")


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def disease_surveillance(ctx: GenContext, contract: Contract) -> Built:
    """One file per report week (Monday of the ISO week the case was reported in); the
    unit is the one valid on that Monday, the dataset's event time."""
    rng = ctx.rng(contract.name)
    allowed = contract.column("disease_code").checks.allowed_values or list(DISEASES)
    codes = [c for c in allowed if c in DISEASES]
    weeks: dict[date, list[dict]] = defaultdict(list)
    counters: dict[date, int] = defaultdict(int)
    for day in ctx.dates:
        rainy = not (day.month >= 11 or day.month <= 4) or is_typhoon_season(day)
        weights = np.array([DISEASES[c][0 if rainy else 1] for c in codes])
        week = _monday(day)
        for _ in range(int(rng.poisson(3 * ctx.scale))):
            code = codes[int(rng.choice(len(codes), p=weights / weights.sum()))]
            _, _, (age_lo, age_hi), note = DISEASES[code]
            age = int(rng.integers(age_lo, age_hi + 1))
            person_sex = sex(rng)
            unit = random_unit(rng, week)
            counters[week] += 1
            weeks[week].append(
                {
                    "case_id": f"CB{week:%y%m%d}{counters[week]:04d}",
                    "report_week": week,
                    "disease_code": code,
                    "onset_date": day - timedelta(days=int(rng.integers(1, 6)))
                    if rng.random() < 0.92
                    else None,
                    "unit_code": unit.code,
                    "sex": person_sex,
                    "age_years": age,
                    "outcome": str(rng.choice(OUTCOMES, p=[0.62, 0.3, 0.005, 0.075])),
                    "patient_name": full_name(rng, person_sex),
                    "citizen_id": citizen_id(rng, day.year - age, person_sex)
                    if rng.random() < 0.9
                    else None,
                    "phone": phone(rng) if rng.random() < 0.8 else None,
                    "clinical_notes": note,
                }
            )
    parts = [
        Part(landing_file(contract, f"{contract.name}_{week:%G_W%V}.csv"), rows)
        for week, rows in sorted(weeks.items())
    ]
    return Built(parts)
