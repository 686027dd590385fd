{# Citizen reports (Open311) with their service level: one row per request.

   Open311 GeoReport v2 exposes only a request's latest state (status, status_notes,
   updated_datetime), not its history, so:
   acknowledged_at   updated_datetime once the request shows it was handled: closed, or open
                     with status notes (the desk writes "Đã chuyển <agency> xử lý" when it
                     forwards a report). For a request closed in one step this is the closing
                     time, so time_to_acknowledge_hours is an upper bound. Null while neither.
   closed_at         updated_datetime of a closed request.
   due_at, sla_hours expected_datetime when the desk gave one, else requested + 72 hours
                     (default_sla_hours below).
   is_overdue        closed after due_at, or still open at evaluated_at past due_at.
   evaluated_at      var('as_of') when given (unit tests, replays), a timestamp with its offset
                     such as '2026-11-25 00:00:00+00:00'; else the build's current_timestamp.
                     An open request's is_overdue holds as of that instant.
   address and description are carried as silver masked them (contract: contact and free text
   are masked at rest), with media_url, for the public Open311 API; email and phone are not
   carried. #}
{%- set default_sla_hours = 72 -%}
{%- set as_of = var('as_of', none) -%}

with requests as (
    select * from {{ ref('stg_open311__service_requests') }}
),

units as (
    select * from {{ ref('dim_admin_units') }}
),

timed as (
    select
        service_request_id,
        service_code,
        service_name,
        agency_responsible,
        status,
        status_notes,
        requested_datetime,
        updated_datetime,
        expected_datetime,
        unit_code,
        lon,
        lat,
        address,
        description,
        media_url,
        {{ local_date('requested_datetime') }} as requested_date_local,
        case
            when status <> 'open' or status_notes is not null then updated_datetime
        end as acknowledged_at,
        case when status = 'closed' then updated_datetime end as closed_at,
        coalesce(
            expected_datetime,
            {{ dbt.dateadd('hour', default_sla_hours, 'requested_datetime') }}
        ) as due_at,
        {% if as_of is not none -%}
        cast('{{ as_of }}' as timestamp with time zone)
        {%- else -%}
        current_timestamp
        {%- endif %} as evaluated_at
    from requests
),

measured as (
    select
        *,
        round({{ dbt.datediff('requested_datetime', 'acknowledged_at', 'second') }} / 3600.0, 2)
            as time_to_acknowledge_hours,
        round({{ dbt.datediff('requested_datetime', 'closed_at', 'second') }} / 3600.0, 2)
            as time_to_resolve_hours,
        round({{ dbt.datediff('requested_datetime', 'due_at', 'second') }} / 3600.0, 2)
            as sla_hours,
        case
            when closed_at is not null then closed_at > due_at
            else evaluated_at > due_at
        end as is_overdue
    from timed
),

joined as (
    select
        measured.service_request_id,
        measured.service_code,
        measured.service_name,
        measured.agency_responsible,
        measured.status,
        measured.status_notes,
        measured.requested_datetime,
        measured.requested_date_local,
        measured.updated_datetime,
        measured.expected_datetime,
        measured.acknowledged_at,
        measured.closed_at,
        measured.due_at,
        measured.sla_hours,
        measured.time_to_acknowledge_hours,
        measured.time_to_resolve_hours,
        measured.is_overdue,
        measured.evaluated_at,
        measured.unit_code,
        units.unit_version_key,
        units.unit_name_vi,
        measured.lon,
        measured.lat,
        measured.address,
        measured.description,
        measured.media_url
    from measured
    left join units
        on measured.unit_code = units.unit_code
        and {{ unit_valid_on('units', 'measured.requested_date_local') }}
)

select * from joined
