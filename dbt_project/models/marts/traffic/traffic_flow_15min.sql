{# Traffic per counter (road segment) and 15-minute bucket, from the 5-minute FIWARE
   TrafficFlowObserved readings; congestion_index = 1 - mean speed / free-flow speed, in [0, 1]. #}

with observations as (
    select
        *,
        {{ dbt.dateadd(
            'minute',
            '15 * floor(extract(minute from date_observed) / 15)',
            dbt.date_trunc('hour', 'date_observed')) }} as bucket_start
    from {{ ref('stg_iot__traffic_flow_observations') }}
),

free_flow as (
    select * from {{ ref('int_traffic_free_flow_speed') }}
),

units as (
    select * from {{ ref('dim_admin_units') }}
),

-- Segment, position and unit of the bucket's last reading.
last_reading as (
    select
        device_id,
        bucket_start,
        road_segment,
        unit_code,
        lon,
        lat,
        row_number() over (partition by device_id, bucket_start order by date_observed desc) as rn
    from observations
),

aggregated as (
    select
        device_id,
        bucket_start,
        count(*) as readings,
        sum(intensity) as vehicles,
        -- intensity is vehicles per 5 minutes: a rate that stays right when a reading is missing
        avg(cast(intensity as double)) * 12 as vehicles_per_hour,
        avg(occupancy) as mean_occupancy,
        avg(average_vehicle_speed) as mean_speed_kmh,
        avg(case when congested then cast(1 as double) when not congested then cast(0 as double) end)
            as congested_share
    from observations
    group by 1, 2
),

final as (
    select
        aggregated.device_id,
        last_reading.road_segment,
        aggregated.bucket_start,
        {{ dbt.dateadd('minute', 15, 'aggregated.bucket_start') }} as bucket_end,
        {{ local_date('aggregated.bucket_start') }} as bucket_date,
        last_reading.unit_code,
        units.unit_version_key,
        units.unit_name_vi,
        last_reading.lon,
        last_reading.lat,
        aggregated.readings,
        aggregated.vehicles,
        aggregated.vehicles_per_hour,
        aggregated.mean_occupancy,
        aggregated.mean_speed_kmh,
        aggregated.congested_share,
        free_flow.free_flow_speed_kmh,
        -- explicit null branch: DuckDB's greatest() skips nulls, Trino's returns null
        case
            when aggregated.mean_speed_kmh is null or coalesce(free_flow.free_flow_speed_kmh, 0) <= 0 then null
            else least(cast(1 as double), greatest(cast(0 as double),
                1 - aggregated.mean_speed_kmh / free_flow.free_flow_speed_kmh))
        end as congestion_index
    from aggregated
    inner join last_reading
        on last_reading.device_id = aggregated.device_id
        and last_reading.bucket_start = aggregated.bucket_start
        and last_reading.rn = 1
    left join free_flow
        on free_flow.device_id = aggregated.device_id
    left join units
        on last_reading.unit_code = units.unit_code
        and {{ unit_valid_on('units', local_date('aggregated.bucket_start')) }}
)

select * from final
