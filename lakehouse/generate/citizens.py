"""Citizen-facing sources: field reports from the province's app (Open311 GeoReport v2)
and administrative dossiers from the Public Administration Service Center's REST API.

Reports carry Vietnamese free text; most dossiers finish before their due date, some do
not, and those still open at the end of the run show as received/processing.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np

from lakehouse.contracts import Contract
from lakehouse.generate.context import Built, GenContext, Part
from lakehouse.generate.places import (
    ascii_slug,
    citizen_id,
    full_name,
    phone,
    point_near,
    random_unit,
    sex,
)

STREETS = (
    "đường Hạ Long",
    "đường Trần Hưng Đạo",
    "đường Lê Thánh Tông",
    "đường Nguyễn Văn Cừ",
    "đường 25/4",
    "đường Cao Xanh",
    "đường Hoàng Quốc Việt",
    "đường Trần Phú",
    "đường Bái Tử Long",
    "Quốc lộ 18",
)
LANDMARKS = (
    "chợ Hạ Long I",
    "trường THCS Trọng Điểm",
    "bến xe Bãi Cháy",
    "bệnh viện Bãi Cháy",
    "chợ Cẩm Phả",
    "cầu Bãi Cháy",
    "UBND phường",
    "chợ Móng Cái",
    "công viên Bến Đoan",
    "nhà văn hóa khu phố",
)

#: service_code → (name, description, agency: catalog department code or a literal name, group, keywords, report templates)
SERVICES = {
    "pothole": (
        "Ổ gà, hư hỏng mặt đường",
        "Mặt đường hư hỏng, ổ gà, lún sụt",
        "transport",
        "Hạ tầng giao thông",
        "ổ gà,mặt đường,lún sụt",
        (
            "Ổ gà lớn trên {street}, gần {landmark}, xe máy đi qua rất nguy hiểm.",
            "Mặt đường {street} bị lún sụt sau mưa, đề nghị sửa chữa sớm.",
        ),
    ),
    "streetlight": (
        "Đèn chiếu sáng công cộng",
        "Đèn đường không sáng hoặc sáng ban ngày",
        "Ban Quản lý chiếu sáng đô thị",
        "Hạ tầng đô thị",
        "đèn đường,chiếu sáng",
        (
            "Đèn đường trên {street} đoạn gần {landmark} không sáng đã {n} đêm nay.",
            "Cột đèn gần {landmark} bị nghiêng, có nguy cơ đổ.",
        ),
    ),
    "flooding": (
        "Ngập úng",
        "Ngập nước trên đường, trong khu dân cư",
        "environment",
        "Môi trường",
        "ngập,úng,thoát nước",
        (
            "Mưa lớn gây ngập sâu khoảng {n}0 cm tại {street}, nước tràn vào nhà dân.",
            "Cống thoát nước gần {landmark} bị tắc, nước ứ đọng.",
        ),
    ),
    "garbage": (
        "Rác thải, vệ sinh môi trường",
        "Rác thải tập kết sai nơi quy định",
        "environment",
        "Môi trường",
        "rác,vệ sinh",
        (
            "Rác thải tập kết bừa bãi gần {landmark}, bốc mùi hôi thối.",
            "Xe thu gom rác không đến {street} đã {n} ngày.",
        ),
    ),
    "illegal_construction": (
        "Xây dựng trái phép",
        "Công trình không phép, sai phép, lấn chiếm",
        "Sở Xây dựng",
        "Trật tự đô thị",
        "xây dựng,lấn chiếm",
        (
            "Công trình xây dựng không phép tại {street}, lấn chiếm vỉa hè.",
            "Nhà dân gần {landmark} cơi nới trái phép sang phần đất công.",
        ),
    ),
    "noise": (
        "Tiếng ồn",
        "Tiếng ồn vượt quy định",
        "police",
        "An ninh trật tự",
        "tiếng ồn,karaoke",
        (
            "Quán karaoke gần {landmark} hát to sau 23 giờ, ảnh hưởng người dân nghỉ ngơi.",
            "Công trường trên {street} thi công ồn ào vào ban đêm.",
        ),
    ),
    "traffic_signal": (
        "Đèn tín hiệu giao thông",
        "Đèn tín hiệu hỏng hoặc sai pha",
        "transport",
        "Hạ tầng giao thông",
        "đèn tín hiệu,nút giao",
        (
            "Đèn tín hiệu tại nút giao {street} bị hỏng, chỉ nháy vàng.",
            "Đèn đỏ ở {street} gần {landmark} quá dài, gây ùn tắc.",
        ),
    ),
    "fallen_tree": (
        "Cây đổ, cành gãy",
        "Cây xanh đổ, gãy cành nguy hiểm",
        "Công ty Công viên cây xanh",
        "Hạ tầng đô thị",
        "cây đổ,cành gãy",
        (
            "Cây xanh bị đổ chắn ngang {street} sau cơn dông.",
            "Cành cây lớn gần {landmark} có nguy cơ gãy, đề nghị cắt tỉa.",
        ),
    ),
    "water_supply": (
        "Cấp nước",
        "Mất nước, rò rỉ đường ống",
        "Công ty Cổ phần Nước sạch Quảng Ninh",
        "Dịch vụ công ích",
        "mất nước,rò rỉ",
        (
            "Khu vực gần {landmark} mất nước sinh hoạt từ sáng, chưa có thông báo.",
            "Đường ống nước bị vỡ trên {street}, nước chảy lãng phí.",
        ),
    ),
    "other": (
        "Phản ánh khác",
        "Các phản ánh khác",
        "ioc",
        "Khác",
        "khác",
        (
            "Đề nghị bổ sung biển báo giao thông gần {landmark}.",
            "Vỉa hè {street} bị chiếm dụng làm nơi kinh doanh.",
        ),
    ),
}
SERVICE_WEIGHTS = {
    "pothole": 3,
    "streetlight": 2,
    "flooding": 1.5,
    "garbage": 3,
    "illegal_construction": 1,
    "noise": 1.5,
    "traffic_signal": 1,
    "fallen_tree": 0.8,
    "water_supply": 1.2,
    "other": 1,
}


def _agency(ctx: GenContext, who: str) -> str:
    department = ctx.catalog.departments.get(who)
    return department.name_vi if department else who


def _window_end(ctx: GenContext) -> datetime:
    return ctx.at(ctx.last_day, 23, 59, 59)


def services_document(ctx: GenContext, contract: Contract) -> list[dict]:
    """GeoReport v2 ``services.json`` for the codes the contract allows."""
    codes = contract.column("service_code").checks.allowed_values or list(SERVICES)
    return [
        {
            "service_code": code,
            "service_name": SERVICES[code][0],
            "description": SERVICES[code][1],
            "metadata": False,
            "type": "realtime",
            "keywords": SERVICES[code][4],
            "group": SERVICES[code][3],
        }
        for code in codes
        if code in SERVICES
    ]


def citizen_requests(ctx: GenContext, contract: Contract) -> Built:
    rng = ctx.rng(contract.name)
    services = services_document(ctx, contract)
    codes = [s["service_code"] for s in services]
    weights = np.array([SERVICE_WEIGHTS.get(c, 1.0) for c in codes])
    hour_weights = np.array([0.2] * 6 + [1.0] * 16 + [0.4] * 2)
    end = _window_end(ctx)
    rows = []
    for day in ctx.dates:
        count = int(rng.poisson(30 * ctx.scale))
        moments = sorted(
            ctx.at(
                day,
                int(rng.choice(24, p=hour_weights / hour_weights.sum())),
                int(rng.integers(60)),
                int(rng.integers(60)),
            )
            for _ in range(count)
        )
        for seq, requested in enumerate(moments, start=1):
            code = codes[int(rng.choice(len(codes), p=weights / weights.sum()))]
            name, _, agency, _, _, templates = SERVICES[code]
            unit = random_unit(rng, day)
            lon, lat = point_near(rng, unit.lon, unit.lat)
            street = STREETS[int(rng.integers(len(STREETS)))]
            text = templates[int(rng.integers(len(templates)))].format(
                street=street,
                landmark=LANDMARKS[int(rng.integers(len(LANDMARKS)))],
                n=int(rng.integers(2, 6)),
            )
            age_days = (end - requested).total_seconds() / 86400
            closed = rng.random() < min(0.9, 0.25 + 0.3 * age_days)
            update_hours = float(rng.uniform(2, 70)) if closed else float(rng.uniform(0, 6))
            updated = min(end, requested + timedelta(seconds=int(update_hours * 3600)))
            agency_name = _agency(ctx, agency)
            request_id = f"QN-{day:%y%m%d}-{seq:04d}"
            reporter = full_name(rng)
            rows.append(
                {
                    "service_request_id": request_id,
                    "service_code": code,
                    "service_name": name,
                    "status": "closed" if closed else "open",
                    "status_notes": "Đã xử lý xong, đã thông báo cho người phản ánh."
                    if closed
                    else (f"Đã chuyển {agency_name} xử lý." if update_hours > 1 else None),
                    "agency_responsible": agency_name,
                    "requested_datetime": requested,
                    "updated_datetime": updated,
                    "expected_datetime": requested + timedelta(days=3)
                    if rng.random() < 0.8
                    else None,
                    "lon": lon,
                    "lat": lat,
                    "address": f"Số {int(rng.integers(1, 300))} {street}, {unit.name_vi}",
                    "description": text,
                    "media_url": f"https://media.ioc.example/open311/{request_id}.jpg"
                    if rng.random() < 0.4
                    else None,
                    "email": f"{ascii_slug(reporter)}{int(rng.integers(10, 99))}@example.com"
                    if rng.random() < 0.3
                    else None,
                    "phone": phone(rng) if rng.random() < 0.85 else None,
                }
            )
    doc = json.dumps(services, ensure_ascii=False, indent=1) + "\n"
    aux = ctx.write_bytes("api/open311/services.json", doc.encode("utf-8"))
    return Built([Part("api/open311/requests.json", rows)], aux_files=[aux])


#: (procedure code, name, handling department, working days allowed)
PROCEDURES = (
    ("1.002001", "Cấp đổi giấy phép lái xe", "transport", 5),
    ("1.002002", "Cấp giấy phép kinh doanh vận tải bằng xe ô tô", "transport", 5),
    ("1.003001", "Cấp giấy phép môi trường", "environment", 20),
    ("1.003002", "Đăng ký biến động quyền sử dụng đất", "environment", 10),
    ("1.004001", "Cấp giấy phép kinh doanh dịch vụ lữ hành nội địa", "tourism", 10),
    ("1.004002", "Công nhận hạng cơ sở lưu trú du lịch", "tourism", 15),
    ("1.005001", "Cấp chứng chỉ hành nghề khám bệnh, chữa bệnh", "health", 20),
    ("1.005002", "Cấp giấy chứng nhận đủ điều kiện kinh doanh dược", "health", 15),
    ("1.006001", "Xác nhận thông tin hộ tịch", "home_affairs", 3),
    ("1.006002", "Thành lập hội", "home_affairs", 30),
    ("1.007001", "Cấp giấy phép xuất bản bản tin", "information", 10),
    ("1.008001", "Đăng ký thường trú", "police", 7),
    ("1.009001", "Cấp giấy phép xây dựng nhà ở riêng lẻ", "ha_long", 15),
)
PROCEDURE_WEIGHTS = np.array([6, 2, 1, 5, 1, 0.5, 1, 1, 4, 0.3, 0.3, 4, 3], dtype=float)


def _add_working_days(start: datetime, days: int) -> datetime:
    moment = start
    while days > 0:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            days -= 1
    return moment.replace(hour=17, minute=0, second=0)


def admin_dossiers(ctx: GenContext, contract: Contract) -> Built:
    rng = ctx.rng(contract.name)
    known = ctx.catalog.departments
    chosen = [
        (p, w)
        for p, w in zip(PROCEDURES, PROCEDURE_WEIGHTS, strict=True)
        if not known or p[2] in known
    ]
    procedures = [p for p, _ in chosen]
    weights = np.array([w for _, w in chosen])
    end = _window_end(ctx)
    rows = []
    for day in ctx.dates:
        weekend = day.weekday() >= 5
        count = int(rng.poisson(60 * ctx.scale * (0.25 if weekend else 1.0)))
        received_list = []
        for _ in range(count):
            channel = (
                "online"
                if weekend
                else str(rng.choice(["online", "counter", "postal"], p=[0.55, 0.4, 0.05]))
            )
            if channel == "online":
                moment = ctx.at(
                    day, int(rng.integers(0, 24)), int(rng.integers(60)), int(rng.integers(60))
                )
            else:
                moment = ctx.at(day, 7, 30) + timedelta(minutes=int(rng.integers(0, 570)))
            received_list.append((moment, channel))
        received_list.sort()
        for seq, (received, channel) in enumerate(received_list, start=1):
            code, name, department, allowed = procedures[
                int(rng.choice(len(procedures), p=weights / weights.sum()))
            ]
            due = _add_working_days(received, allowed)
            on_time = rng.random() < 0.85
            duration = (due - received) * (
                float(rng.uniform(0.15, 0.95)) if on_time else float(rng.uniform(1.05, 1.8))
            )
            finished = (received + duration).replace(microsecond=0)
            if finished <= end:
                status = "rejected" if rng.random() < 0.03 else "completed"
                completed, updated = finished, finished
            else:
                status = str(
                    rng.choice(["received", "processing", "additional_info"], p=[0.2, 0.7, 0.1])
                )
                completed = None
                updated = received + (end - received) * float(rng.uniform(0.0, 1.0))
            person_sex = sex(rng)
            rows.append(
                {
                    "dossier_id": f"000.00.{procedures.index((code, name, department, allowed)) + 1:02d}.H47-{day:%y%m%d}-{seq:04d}",
                    "procedure_code": code,
                    "procedure_name": name,
                    "handling_department": department,
                    "unit_code": random_unit(rng, day).code if rng.random() < 0.75 else None,
                    "channel": channel,
                    "received_at": received,
                    "due_at": due,
                    "completed_at": completed,
                    "status": status,
                    "applicant_id_number": citizen_id(
                        rng, int(rng.integers(1950, 2006)), person_sex
                    )
                    if rng.random() < 0.95
                    else None,
                    "updated_at": updated.replace(microsecond=0),
                }
            )
    rows.sort(key=lambda r: (r["updated_at"], r["dossier_id"]))
    return Built([Part(f"api/{contract.source.system}/{contract.name}.json", rows)])
