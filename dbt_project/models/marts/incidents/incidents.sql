{# The IOC's incident table: one row per thing that happened, whichever department saw it.
   Each intermediate model maps one source to the same columns; this model stacks them, adds
   the local date, the time to close and the administrative unit valid on that date.

   Video events (crowds, stopped vehicles, blackouts and tampering the camera video index
   found) come from the video indexing job's output, which exists (empty) before its first
   run, like the forecasts (lakehouse/pipeline/platform_tables.py).

   `build_gold` builds this model once every part's silver table exists (a missing source
   holds back what depends on it), so the parts are static and the SQL compiles without a
   database (the Trino portability test needs that). #}
{%- set parts = [
    ref('int_incidents__security_incidents'),
    ref('int_incidents__traffic_incidents'),
    ref('int_incidents__citizen_reports'),
    ref('int_incidents__water_level_alarms'),
    ref('int_incidents__air_quality_breaches'),
    ref('int_incidents__forecast_alerts'),
    ref('int_incidents__video_events'),
] -%}
with unioned as (
    {% for part in parts %}
    select
        incident_key,
        kind,
        source_dataset,
        source_id,
        occurred_at,
        unit_code,
        lon,
        lat,
        category,
        cast(severity as integer) as severity,
        status,
        closed_at,
        measured_value,
        threshold_value
    from {{ part }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

localised as (
    select
        *,
        -- Local calendar day; `at time zone` gives the local wall time in DuckDB and Trino.
        {{ local_date('occurred_at') }} as occurred_date_local
    from unioned
),

units as (
    select * from {{ ref('dim_admin_units') }}
),

-- Who owns an incident is who owns its dataset: the contract's owner, via the seed generated
-- from catalog/, never restated here.
datasets as (
    select * from {{ ref('datasets') }}
),

joined as (
    select
        localised.incident_key,
        localised.kind,
        localised.source_dataset,
        localised.source_id,
        localised.occurred_at,
        localised.occurred_date_local,
        localised.unit_code,
        units.unit_version_key,
        units.unit_name_vi,
        localised.lon,
        localised.lat,
        localised.category,
        localised.severity,
        datasets.owner as owner_department,
        localised.status,
        localised.closed_at,
        round({{ dbt.datediff('localised.occurred_at', 'localised.closed_at', 'second') }} / 60.0, 1)
            as response_minutes,
        localised.measured_value,
        localised.threshold_value
    from localised
    left join datasets
        on localised.source_dataset = datasets.dataset
    left join units
        on localised.unit_code = units.unit_code
        and {{ unit_valid_on('units', 'localised.occurred_date_local') }}
)

select * from joined
