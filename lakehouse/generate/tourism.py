"""Tourism department sources: the daily-arrivals Excel workbooks and the hotel-occupancy CSVs.

Arrivals peak in summer (June–August) and at weekends, Hạ Long Bay sites (unit 193)
dominate. Each monthly workbook splits sites across two sheets ("Hạ Long" and the rest of
the province), as the department's staff do, under a title block.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import numpy as np

from lakehouse.contracts import Contract
from lakehouse.generate.context import Built, GenContext, Part, landing_file
from lakehouse.generate.patterns import WEEKDAY_TOURISM, tourism_factor
from lakehouse.generate.places import unit_for
from lakehouse.generate.sites import hotels, tourist_sites

HA_LONG = "193"
SHEET_HA_LONG = "Hạ Long"
SHEET_OTHERS = "Các địa phương khác"


def _title(ctx: GenContext, contract: Contract, month: date) -> list[str]:
    department = ctx.catalog.departments.get(contract.owner)
    issuer = f"{department.name_vi.upper()} TỈNH QUẢNG NINH" if department else "TỈNH QUẢNG NINH"
    return [issuer, f"BÁO CÁO LƯỢT KHÁCH THEO NGÀY - THÁNG {month:%m/%Y}", ""]


def tourism_daily_arrivals(ctx: GenContext, contract: Contract) -> Built:
    rng = ctx.rng(contract.name)
    sites = tourist_sites(ctx)
    sheets: dict[tuple[date, str], list[dict]] = defaultdict(list)
    for day in ctx.dates:
        factor = tourism_factor(day)
        for site in sites:
            domestic = int(site.domestic * factor * rng.lognormal(0.0, 0.15))
            intl = int(domestic * site.intl_share / (1 - site.intl_share) * rng.lognormal(0.0, 0.2))
            revenue = int(round((domestic + intl) * site.spend_vnd * rng.uniform(0.85, 1.15), -3))
            sheet = SHEET_HA_LONG if site.home == HA_LONG else SHEET_OTHERS
            sheets[(day.replace(day=1), sheet)].append(
                {
                    "report_date": day,
                    "site_code": site.code,
                    "site_name": site.name,
                    "unit_code": unit_for(site.home, site.lon, site.lat, day).code,
                    "domestic_visitors": domestic,
                    "international_visitors": intl,
                    "revenue_vnd": revenue,
                }
            )
    parts = []
    for month in sorted({m for m, _ in sheets}):
        file = landing_file(contract, f"{contract.name}_{month:%Y_%m}.xlsx")
        for sheet in (SHEET_HA_LONG, SHEET_OTHERS):
            if sheets.get((month, sheet)):
                parts.append(
                    Part(
                        file,
                        sheets[(month, sheet)],
                        sheet=sheet,
                        title=_title(ctx, contract, month),
                    )
                )
    return Built(parts)


def hotel_occupancy(ctx: GenContext, contract: Contract) -> Built:
    rng = ctx.rng(contract.name)
    fleet = hotels(ctx)
    parts = []
    for day in ctx.dates:
        factor = tourism_factor(day)
        weekday = WEEKDAY_TOURISM[day.weekday()]
        rows = []
        for hotel in fleet:
            occupancy = float(np.clip(0.42 * factor + rng.normal(0.0, 0.07), 0.05, 1.0))
            occupied = min(hotel.rooms, round(hotel.rooms * occupancy))
            rate = (
                hotel.rate_vnd
                * (1 + 0.35 * (factor / weekday - 1))
                * weekday**0.5
                * rng.uniform(0.95, 1.05)
            )
            rows.append(
                {
                    "report_date": day,
                    "hotel_id": hotel.code,
                    "hotel_name": hotel.name,
                    "star_rating": hotel.stars,
                    "unit_code": unit_for(hotel.home, hotel.lon, hotel.lat, day).code,
                    "rooms_available": hotel.rooms,
                    "rooms_occupied": occupied,
                    "average_rate_vnd": float(round(rate, -3)) if occupied else None,
                }
            )
        parts.append(Part(landing_file(contract, f"{contract.name}_{day:%Y%m%d}.csv"), rows))
    return Built(parts)
