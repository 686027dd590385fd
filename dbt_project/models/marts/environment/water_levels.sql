{# River water-level readings with the station's official alarm levels (báo động I/II/III):
   the alarm level reached, how far above it and how far below the next one.

   Incremental: a run reprocesses the readings that *arrived* (ingested_at) within the late-data
   window before the newest one already here, whatever their observation time, and replaces
   them by key (delete+insert). A daily run therefore costs a day of readings, and a reading
   delivered days late is still placed. Gold publishes only the rows that changed, into the
   Delta table partitioned by observed_date (meta.delta_publish). #}
{{ config(
    materialized='incremental',
    unique_key=['station_code', 'observed_at'],
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    meta={'delta_publish': {'keys': ['station_code', 'observed_at'], 'partition_by': ['observed_date'],
                           'watermark': 'ingested_at', 'window_hours': var('late_data_window_hours', 48)}},
) }}

with readings as (
    select * from {{ ref('stg_hydromet__water_levels') }}
    {% if is_incremental() %}
    where ingested_at > (
        select {{ dbt.dateadd('hour', -var('late_data_window_hours', 48), 'max(ingested_at)') }} from {{ this }}
    )
    {% endif %}
),

stations as (
    select * from {{ ref('stg_hydromet__stations') }}
),

units as (
    select * from {{ ref('dim_admin_units') }}
),

-- A reading reaches an alarm level when the water is at or above it.
leveled as (
    select
        readings.station_code,
        readings.observed_at,
        {{ local_date('readings.observed_at') }} as observed_date,
        readings.water_level_cm,
        readings.rainfall_mm,
        readings.ingested_at,
        stations.station_name,
        stations.river,
        stations.unit_code,
        stations.lon,
        stations.lat,
        stations.alarm_1_cm,
        stations.alarm_2_cm,
        stations.alarm_3_cm,
        case
            when stations.station_code is null then null  -- unknown station: no alarms to compare
            else {{ water_alarm_level('readings.water_level_cm', 'stations') }}
        end as alarm_level
    from readings
    left join stations
        on readings.station_code = stations.station_code
),

final as (
    select
        leveled.station_code,
        leveled.observed_at,
        leveled.observed_date,
        leveled.station_name,
        leveled.river,
        leveled.unit_code,
        units.unit_version_key,
        units.unit_name_vi,
        leveled.lon,
        leveled.lat,
        leveled.water_level_cm,
        leveled.rainfall_mm,
        leveled.alarm_1_cm,
        leveled.alarm_2_cm,
        leveled.alarm_3_cm,
        leveled.alarm_level,
        case leveled.alarm_level
            when 0 then 'Dưới báo động I'
            when 1 then 'Báo động I'
            when 2 then 'Báo động II'
            when 3 then 'Báo động III'
        end as alarm_label,
        leveled.water_level_cm - leveled.alarm_1_cm as cm_vs_alarm_1,
        case leveled.alarm_level
            when 1 then leveled.water_level_cm - leveled.alarm_1_cm
            when 2 then leveled.water_level_cm - leveled.alarm_2_cm
            when 3 then leveled.water_level_cm - leveled.alarm_3_cm
        end as cm_above_alarm_reached,
        case leveled.alarm_level
            when 0 then leveled.alarm_1_cm - leveled.water_level_cm
            when 1 then leveled.alarm_2_cm - leveled.water_level_cm
            when 2 then leveled.alarm_3_cm - leveled.water_level_cm
        end as cm_below_next_alarm,
        leveled.ingested_at
    from leveled
    left join units
        on leveled.unit_code = units.unit_code
        and {{ unit_valid_on('units', 'leveled.observed_date') }}
)

select * from final
