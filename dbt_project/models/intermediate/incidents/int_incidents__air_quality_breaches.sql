{# PM2.5 breaches: one incident per station and local day (Asia/Ho_Chi_Minh) on which any
   hourly reading had pm25 > 50 µg/m³. 50 µg/m³ is the 24-hour limit of QCVN 05:2023/BTNMT;
   applying it to single hours is deliberately simple and flags more days than a 24-hour mean
   would (the day's mean is not computed here).

   severity        from the day's hourly peak, on the VN_AQI PM2.5 breakpoints
                   (QĐ 1459/QĐ-TCMT): > 50 → 2 (kém), > 80 → 3 (xấu), > 150 → 4 (rất xấu+)
   occurred_at     the day's first reading above 50
   measured_value  the day's peak pm25 (µg/m³); threshold_value 50
   status/closed_at  closed at the first later reading at or below 50 (whatever its day);
                   open while none has arrived yet. Readings without pm25 neither open nor close.

   Local dates come from the local_date() macro. #}
{#- The VN_AQI PM2.5 breakpoints (macros/vn_aqi.sql) are the one place these numbers live:
    50 (index 100, the QCVN 24h limit) opens a breach, 80 and 150 raise its severity. -#}
{%- set pm25 = vn_aqi_concentration_breakpoints()['pm25'] -%}
{%- set pm25_limit = pm25[2] -%}

with readings as (
    select
        station_code,
        date_observed as observed_at,
        {{ local_date('date_observed') }} as observed_date_local,
        pm25,
        unit_code,
        lon,
        lat
    from {{ ref('stg_iot__air_quality_observations') }}
    where pm25 is not null
),

breach_days as (
    select
        station_code,
        observed_date_local,
        min(observed_at) as first_breach_at,
        max(observed_at) as last_breach_at,
        max(pm25) as peak_pm25,
        -- A station does not move within a day; min() just picks one deterministically.
        min(unit_code) as unit_code,
        min(lon) as lon,
        min(lat) as lat
    from readings
    where pm25 > {{ pm25_limit }}
    group by station_code, observed_date_local
),

recoveries as (
    select
        breach_days.station_code,
        breach_days.observed_date_local,
        min(readings.observed_at) as recovered_at
    from breach_days
    inner join readings
        on readings.station_code = breach_days.station_code
        and readings.observed_at > breach_days.last_breach_at
        and readings.pm25 <= {{ pm25_limit }}
    group by breach_days.station_code, breach_days.observed_date_local
),

mapped as (
    select
        'air_quality_breach:' || breach_days.station_code || ':'
            || cast(breach_days.observed_date_local as {{ dbt.type_string() }}) as incident_key,
        'air_quality_breach' as kind,
        'air_quality_observed' as source_dataset,
        breach_days.station_code || ':'
            || cast(breach_days.observed_date_local as {{ dbt.type_string() }}) as source_id,
        breach_days.first_breach_at as occurred_at,
        breach_days.unit_code,
        breach_days.lon,
        breach_days.lat,
        'pm25' as category,
        case
            when breach_days.peak_pm25 > {{ pm25[4] }} then 4
            when breach_days.peak_pm25 > {{ pm25[3] }} then 3
            else 2
        end as severity,
        case when recoveries.recovered_at is null then 'open' else 'closed' end as status,
        recoveries.recovered_at as closed_at,
        cast(breach_days.peak_pm25 as double) as measured_value,
        cast({{ pm25_limit }} as double) as threshold_value
    from breach_days
    left join recoveries
        on breach_days.station_code = recoveries.station_code
        and breach_days.observed_date_local = recoveries.observed_date_local
)

select * from mapped
