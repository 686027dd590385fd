{# The province leadership scorecard: one row per administrative unit below the province and
   per day, for the units in force on that day, over the days the data covers. Built from
   staging only. Counts are zero-filled; rates stay null on days with nothing to rate.

   Days are local (Asia/Ho_Chi_Minh). Events are placed on the unit_code silver gave them
   (the unit in force at the event date); an event with no unit_code, or with a code not in
   force that day, has no row to land on and is left out.

   The date spine is built from a 0..9999 day-offset table (four cross-joined digits), so it
   needs no query at compile time (dbt.date_spine runs one) and reads the same on DuckDB and
   Trino; a range over 10,000 days (27 years) would be cut short. #}


with arrivals as (
    select
        unit_code,
        report_date as activity_date,
        sum(domestic_visitors + international_visitors) as tourism_visitors,
        sum(international_visitors) as tourism_international_visitors,
        count(*) as tourism_sites_reporting
    from {{ ref('stg_tourism__daily_arrivals') }}
    group by unit_code, report_date
),

hotels as (
    select
        unit_code,
        report_date as activity_date,
        sum(rooms_available) as hotel_rooms_available,
        sum(rooms_occupied) as hotel_rooms_occupied
    from {{ ref('stg_tourism__hotel_occupancy_reports') }}
    group by unit_code, report_date
),

traffic as (
    select
        unit_code,
        {{ local_date('occurred_at') }} as activity_date,
        count(*) as traffic_incidents,
        sum(coalesce(injuries, 0)) as traffic_injuries,
        sum(coalesce(fatalities, 0)) as traffic_fatalities
    from {{ ref('stg_transport__traffic_incidents') }}
    where unit_code is not null and not coalesce(is_deleted, false)
    group by unit_code, {{ local_date('occurred_at') }}
),

security as (
    select
        unit_code,
        {{ local_date('reported_at') }} as activity_date,
        count(*) as security_incidents
    from {{ ref('stg_police__security_incidents') }}
    where unit_code is not null and not coalesce(is_deleted, false)
    group by unit_code, {{ local_date('reported_at') }}
),

requests as (
    select
        unit_code,
        {{ local_date('requested_datetime') }} as activity_date,
        count(*) as citizen_requests_opened
    from {{ ref('stg_open311__service_requests') }}
    where unit_code is not null
    group by unit_code, {{ local_date('requested_datetime') }}
),

dossiers_received as (
    select
        unit_code,
        {{ local_date('received_at') }} as activity_date,
        count(*) as dossiers_received
    from {{ ref('stg_public_admin__dossiers') }}
    where unit_code is not null
    group by unit_code, {{ local_date('received_at') }}
),

{# On-time rate over the dossiers completed that day (by completion date), the period measure
   a scorecard adds up; admin_dossiers_kpi gives the cohort view by day received. #}
dossiers_completed as (
    select
        unit_code,
        {{ local_date('completed_at') }} as activity_date,
        count(*) as dossiers_completed,
        sum(case when completed_at <= due_at then 1 else 0 end) as dossiers_completed_on_time
    from {{ ref('stg_public_admin__dossiers') }}
    where unit_code is not null and completed_at is not null
    group by unit_code, {{ local_date('completed_at') }}
),

{# Cases are weekly line lists: placed on the onset date, or the report week's Monday when the
   onset is unknown. #}
disease as (
    select
        unit_code,
        coalesce(onset_date, report_week) as activity_date,
        count(*) as disease_cases
    from {{ ref('stg_health__disease_cases') }}
    group by unit_code, coalesce(onset_date, report_week)
),

fact_days as (
    select activity_date from arrivals
    union all select activity_date from hotels
    union all select activity_date from traffic
    union all select activity_date from security
    union all select activity_date from requests
    union all select activity_date from dossiers_received
    union all select activity_date from dossiers_completed
    union all select activity_date from disease
),

bounds as (
    select min(activity_date) as first_day, max(activity_date) as last_day
    from fact_days
),

digits as (
    select digit from (values (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)) as digits (digit)
),

day_offsets as (
    select thousands.digit * 1000 + hundreds.digit * 100 + tens.digit * 10 + ones.digit as day_offset
    from digits as ones
    cross join digits as tens
    cross join digits as hundreds
    cross join digits as thousands
),

spine_days as (
    select
        cast({{ dbt.dateadd('day', 'day_offsets.day_offset', 'bounds.first_day') }} as date) as scorecard_date,
        bounds.last_day
    from day_offsets
    cross join bounds
),

spine as (
    select scorecard_date from spine_days where scorecard_date <= last_day
),

unit_days as (
    select
        spine.scorecard_date,
        units.unit_code,
        units.unit_version_key,
        units.unit_name_vi,
        units.unit_name_en,
        units.unit_level
    from spine
    inner join {{ ref('dim_admin_units') }} as units
        on {{ unit_valid_on('units', 'spine.scorecard_date') }}
    where units.unit_level <> 'province'
)

select
    unit_days.unit_code,
    unit_days.scorecard_date,
    unit_days.unit_version_key,
    unit_days.unit_name_vi,
    unit_days.unit_name_en,
    unit_days.unit_level,
    coalesce(arrivals.tourism_visitors, 0) as tourism_visitors,
    coalesce(arrivals.tourism_international_visitors, 0) as tourism_international_visitors,
    coalesce(arrivals.tourism_sites_reporting, 0) as tourism_sites_reporting,
    coalesce(hotels.hotel_rooms_available, 0) as hotel_rooms_available,
    coalesce(hotels.hotel_rooms_occupied, 0) as hotel_rooms_occupied,
    case
        when hotels.hotel_rooms_available > 0
            then cast(hotels.hotel_rooms_occupied as double) / hotels.hotel_rooms_available
    end as hotel_occupancy_rate,
    coalesce(traffic.traffic_incidents, 0) as traffic_incidents,
    coalesce(traffic.traffic_injuries, 0) as traffic_injuries,
    coalesce(traffic.traffic_fatalities, 0) as traffic_fatalities,
    coalesce(security.security_incidents, 0) as security_incidents,
    coalesce(requests.citizen_requests_opened, 0) as citizen_requests_opened,
    coalesce(dossiers_received.dossiers_received, 0) as dossiers_received,
    coalesce(dossiers_completed.dossiers_completed, 0) as dossiers_completed,
    coalesce(dossiers_completed.dossiers_completed_on_time, 0) as dossiers_completed_on_time,
    case
        when dossiers_completed.dossiers_completed > 0
            then cast(dossiers_completed.dossiers_completed_on_time as double) / dossiers_completed.dossiers_completed
    end as dossiers_on_time_rate,
    coalesce(disease.disease_cases, 0) as disease_cases
from unit_days
left join arrivals
    on unit_days.unit_code = arrivals.unit_code and unit_days.scorecard_date = arrivals.activity_date
left join hotels
    on unit_days.unit_code = hotels.unit_code and unit_days.scorecard_date = hotels.activity_date
left join traffic
    on unit_days.unit_code = traffic.unit_code and unit_days.scorecard_date = traffic.activity_date
left join security
    on unit_days.unit_code = security.unit_code and unit_days.scorecard_date = security.activity_date
left join requests
    on unit_days.unit_code = requests.unit_code and unit_days.scorecard_date = requests.activity_date
left join dossiers_received
    on unit_days.unit_code = dossiers_received.unit_code and unit_days.scorecard_date = dossiers_received.activity_date
left join dossiers_completed
    on unit_days.unit_code = dossiers_completed.unit_code and unit_days.scorecard_date = dossiers_completed.activity_date
left join disease
    on unit_days.unit_code = disease.unit_code and unit_days.scorecard_date = disease.activity_date
