{# Free-flow speed per traffic counter: the 95th percentile (nearest rank, macros/nearest_rank.sql)
   of its 5-minute average speeds over all the data. #}
{%- set percentile = var('traffic_free_flow_percentile', 0.95) -%}

with observations as (
    select * from {{ ref('stg_iot__traffic_flow_observations') }}
    where average_vehicle_speed is not null
),

ranked as (
    select
        device_id,
        average_vehicle_speed,
        {{ percentile_rank_columns('average_vehicle_speed', 'device_id') }}
    from observations
),

final as (
    select
        device_id,
        average_vehicle_speed as free_flow_speed_kmh,
        percentile_samples as speed_samples
    from ranked
    where {{ is_nearest_rank(percentile) }}
)

select * from final
