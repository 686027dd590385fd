"""Searching the video index: "people gathering at camera X between 19:00 and 21:00",
"vehicles stopped last night". Plain SQL on DuckDB over the gold index tables, so the same
questions can be asked from any SQL client (the queries are printed with ``--sql``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from lakehouse.settings import Settings, get_settings

CLASSES = {"person": ("people", "people_peak"), "vehicle": ("vehicles", "vehicles_peak")}


@dataclass(frozen=True)
class VideoQuery:
    cameras: tuple[str, ...] = ()
    start: datetime | None = None  # naive times are local (settings.timezone)
    end: datetime | None = None
    object_class: str = "person"
    min_count: int = 1
    event_type: str | None = None  # search events instead of counts
    limit: int = 100


def _instant(value: datetime | None, timezone: str) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=ZoneInfo(timezone))


def minutes_sql(query: VideoQuery, timezone: str) -> tuple[str, list]:
    """Camera-minutes where at least ``min_count`` objects of the class were seen (peak at
    once), with one thumbnail of such an object."""
    if query.object_class not in CLASSES:
        raise ValueError(f"unknown class {query.object_class!r}: choose from {sorted(CLASSES)}")
    total, peak = CLASSES[query.object_class]
    where, params = ["peak >= ?"], [query.min_count]
    where_tracks, track_params = ["t.object_class = ?"], [query.object_class]
    if query.cameras:
        marks = ", ".join("?" for _ in query.cameras)
        where.append(f"camera_id IN ({marks})")
        params += list(query.cameras)
    for column, op, value in (("minute", ">=", query.start), ("minute", "<", query.end)):
        if value is not None:
            where.append(f"{column} {op} ?")
            params.append(_instant(value, timezone))
    sql = f"""
        with minutes as (
            select camera_id, minute, sum({total}) as seen, max({peak}) as peak
            from gold.video_minute_counts
            group by camera_id, minute
        ),
        hits as (select * from minutes where {' and '.join(where)})
        select hits.camera_id,
               timezone('{timezone}', hits.minute) as minute_local,
               hits.seen as {total}_seen,
               hits.peak as {total}_at_once,
               (select min(t.thumbnail_uri) from gold.video_tracks t
                 where t.camera_id = hits.camera_id and {' and '.join(where_tracks)}
                   and t.first_seen < hits.minute + interval 1 minute and t.last_seen >= hits.minute) as thumbnail
        from hits
        order by hits.minute, hits.camera_id
        limit {int(query.limit)}
    """
    return sql, params + track_params


def events_sql(query: VideoQuery, timezone: str) -> tuple[str, list]:
    where, params = ["event_type = ?"], [query.event_type]
    if query.cameras:
        where.append(f"camera_id IN ({', '.join('?' for _ in query.cameras)})")
        params += list(query.cameras)
    if query.start is not None:
        where.append("ended_at >= ?")
        params.append(_instant(query.start, timezone))
    if query.end is not None:
        where.append("started_at < ?")
        params.append(_instant(query.end, timezone))
    sql = f"""
        select camera_id, event_type, timezone('{timezone}', started_at) as started_local,
               timezone('{timezone}', ended_at) as ended_local, value, threshold, detail, thumbnail_uri
        from gold.video_events
        where {' and '.join(where)}
        order by started_at, camera_id
        limit {int(query.limit)}
    """
    return sql, params


def search(query: VideoQuery, settings: Settings | None = None) -> tuple[list[str], list[tuple]]:
    """``(column names, rows)`` answering the query."""
    from lakehouse.lake.duck import lake_connection

    settings = settings or get_settings()
    sql, params = (events_sql if query.event_type else minutes_sql)(query, settings.timezone)
    con = lake_connection(settings)
    try:
        result = con.execute(sql, params)
        return [d[0] for d in result.description], result.fetchall()
    finally:
        con.close()
