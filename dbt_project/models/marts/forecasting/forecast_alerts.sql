{# Forecast alerts: the newest forecast of each series crossing a line the IOC acts on, one
   alert per series, rule, level and local day of the first predicted breach. The same breach
   predicted again by a later run keeps its alert_key, so it is routed to its department once.

   rules (the thresholds live where the observed incidents take them from):
     pm25_forecast        predicted PM2.5 whose VN_AQI sub-index (macros/vn_aqi.sql) is in band
                          3 (kém, index > 100, about 50 µg/m³) or worse; level = that band (3–6)
     water_level_forecast predicted level at or above the station's alarm I/II/III
                          (water_alarm_level macro); level = alarm level 1–3
     visitors_forecast    predicted visitors above the site's 95th percentile day so far
                          (crowding); level = 1

   Hourly PM2.5 forecasts are compared with the breakpoints as the observed breaches are (hour
   by hour, not as 24-hour means). Traffic forecasts raise no alert yet. #}
{%- set pm25_limit = vn_aqi_concentration_breakpoints()['pm25'][2] -%}

with forecasts as (
    select * from {{ ref('stg_ml__forecasts') }}
    where is_selected
),

latest as (
    -- What is predicted now: the newest issue of the served model.
    select
        forecasts.*,
        split_part(series_id, ':', 2) as series_key,
        {{ local_date('forecast_for') }} as forecast_date_local
    from forecasts
    where issued_at = (select max(issued_at) from forecasts)
),

air_stations as (
    select
        station_code,
        min(unit_code) as unit_code,
        min(lon) as lon,
        min(lat) as lat
    from {{ ref('stg_iot__air_quality_observations') }}
    group by station_code
),

water_stations as (
    select * from {{ ref('stg_hydromet__stations') }}
),

site_days as (
    select
        site_code,
        unit_code,
        total_visitors,
        {{ percentile_rank_columns('total_visitors', 'site_code') }}
    from {{ ref('tourism_daily') }}
    where total_visitors is not null
),

sites as (
    select
        site_code,
        unit_code,
        total_visitors as p95_visitors
    from site_days
    where {{ is_nearest_rank(0.95) }}
),

air_graded as (
    select
        latest.*,
        {{ vn_aqi_band(vn_aqi_sub_index('pm25', 'latest.predicted_value'), 'level') }} as alert_level
    from latest
    where latest.series_kind = 'pm25'
),

air as (
    -- Band 3 (kém) and worse: the rounded PM2.5 sub-index above 100, as the observed index.
    select
        air_graded.*,
        'pm25_forecast' as alert_type,
        'air_quality_observed' as source_dataset,
        cast({{ pm25_limit }} as double) as threshold_value,
        air_stations.unit_code,
        air_stations.lon,
        air_stations.lat
    from air_graded
    left join air_stations
        on air_graded.series_key = air_stations.station_code
    where air_graded.alert_level >= 3
),

water as (
    select
        latest.*,
        'water_level_forecast' as alert_type,
        'water_levels' as source_dataset,
        {{ water_alarm_level('latest.predicted_value', 'water_stations') }} as alert_level,
        cast(water_stations.alarm_1_cm as double) as threshold_value,
        water_stations.unit_code,
        water_stations.lon,
        water_stations.lat
    from latest
    inner join water_stations
        on latest.series_key = water_stations.station_code
    where latest.series_kind = 'water_level'
        and latest.predicted_value >= water_stations.alarm_1_cm
),

crowding as (
    select
        latest.*,
        'visitors_forecast' as alert_type,
        'tourism_daily_arrivals' as source_dataset,
        1 as alert_level,
        cast(sites.p95_visitors as double) as threshold_value,
        sites.unit_code,
        cast(null as double) as lon,
        cast(null as double) as lat
    from latest
    inner join sites
        on latest.series_key = sites.site_code
    where latest.series_kind = 'visitors'
        and latest.predicted_value > sites.p95_visitors
),

breaches as (
    {% for part in ['air', 'water', 'crowding'] %}
    select
        alert_type, source_dataset, series_kind, series_id, series_key, alert_level,
        forecast_date_local, forecast_for, predicted_value, predicted_hi_80, threshold_value,
        unit_code, lon, lat, model_version, run_id, issued_at
    from {{ part }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

alerts as (
    select
        alert_type,
        source_dataset,
        series_kind,
        series_id,
        series_key,
        alert_level,
        forecast_date_local,
        min(forecast_for) as predicted_breach_at,
        max(predicted_value) as predicted_peak,
        max(predicted_hi_80) as predicted_peak_hi_80,
        min(threshold_value) as threshold_value,
        min(unit_code) as unit_code,
        min(lon) as lon,
        min(lat) as lat,
        min(model_version) as model_version,
        min(run_id) as run_id,
        min(issued_at) as issued_at
    from breaches
    group by alert_type, source_dataset, series_kind, series_id, series_key, alert_level, forecast_date_local
),

datasets as (
    select * from {{ ref('datasets') }}
)

select
    alerts.alert_type || ':' || alerts.series_key || ':' || cast(alerts.alert_level as {{ dbt.type_string() }})
        || ':' || cast(alerts.forecast_date_local as {{ dbt.type_string() }}) as alert_key,
    alerts.*,
    case alerts.alert_type
        when 'water_level_forecast' then alerts.alert_level + 1
        when 'pm25_forecast' then least(alerts.alert_level - 1, 4)
        else 2
    end as severity,
    datasets.owner as owner_department
from alerts
left join datasets
    on alerts.source_dataset = datasets.dataset
