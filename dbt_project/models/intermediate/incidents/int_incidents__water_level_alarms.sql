{# Water-level alarm breaches: one incident per station and local day (Asia/Ho_Chi_Minh) on
   which a reading reached the station's alarm level I (alarm_1_cm) or above, at the highest
   level reached that day (báo động I/II/III → severity 2/3/4).

   occurred_at     the day's first reading at or above alarm I
   measured_value  the day's peak water level (cm); threshold_value the alarm level reached (cm)
   status/closed_at  closed at the first later reading back below alarm I (whatever its day);
                   open while no such reading has arrived yet

   Local dates come from the local_date() macro. #}
with readings as (
    select * from {{ ref('stg_hydromet__water_levels') }}
),

stations as (
    select * from {{ ref('stg_hydromet__stations') }}
),

graded as (
    select
        readings.station_code,
        readings.observed_at,
        {{ local_date('readings.observed_at') }} as observed_date_local,
        readings.water_level_cm,
        {{ water_alarm_level('readings.water_level_cm', 'stations') }} as alarm_level
    from readings
    inner join stations
        on readings.station_code = stations.station_code
    where readings.water_level_cm is not null
),

breach_days as (
    select
        station_code,
        observed_date_local,
        max(alarm_level) as alarm_level,
        min(observed_at) as first_breach_at,
        max(observed_at) as last_breach_at,
        max(water_level_cm) as peak_level_cm
    from graded
    where alarm_level >= 1
    group by station_code, observed_date_local
),

recoveries as (
    select
        breach_days.station_code,
        breach_days.observed_date_local,
        min(graded.observed_at) as recovered_at
    from breach_days
    inner join graded
        on graded.station_code = breach_days.station_code
        and graded.observed_at > breach_days.last_breach_at
        and graded.alarm_level = 0
    group by breach_days.station_code, breach_days.observed_date_local
),

mapped as (
    select
        'water_level_alarm:' || breach_days.station_code || ':'
            || cast(breach_days.observed_date_local as {{ dbt.type_string() }}) as incident_key,
        'water_level_alarm' as kind,
        'water_levels' as source_dataset,
        breach_days.station_code || ':'
            || cast(breach_days.observed_date_local as {{ dbt.type_string() }}) as source_id,
        breach_days.first_breach_at as occurred_at,
        stations.unit_code,
        stations.lon,
        stations.lat,
        'alarm_' || cast(breach_days.alarm_level as {{ dbt.type_string() }}) as category,
        breach_days.alarm_level + 1 as severity,
        case when recoveries.recovered_at is null then 'open' else 'closed' end as status,
        recoveries.recovered_at as closed_at,
        cast(breach_days.peak_level_cm as double) as measured_value,
        cast(case breach_days.alarm_level
            when 3 then stations.alarm_3_cm
            when 2 then stations.alarm_2_cm
            else stations.alarm_1_cm
        end as double) as threshold_value
    from breach_days
    inner join stations
        on breach_days.station_code = stations.station_code
    left join recoveries
        on breach_days.station_code = recoveries.station_code
        and breach_days.observed_date_local = recoveries.observed_date_local
)

select * from mapped
