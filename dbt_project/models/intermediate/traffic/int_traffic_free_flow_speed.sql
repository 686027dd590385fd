{# Free-flow speed per traffic counter: the 95th percentile (nearest rank) of its 5-minute
   average speeds over all the data. Computed with window functions rather than
   quantile_cont / approx_percentile so that DuckDB and Trino give the same figure. #}
{%- set percentile = var('traffic_free_flow_percentile', 0.95) -%}

with observations as (
    select * from {{ ref('stg_iot__traffic_flow_observations') }}
    where average_vehicle_speed is not null
),

ranked as (
    select
        device_id,
        average_vehicle_speed,
        row_number() over (partition by device_id order by average_vehicle_speed) as speed_rank,
        count(*) over (partition by device_id) as speed_samples
    from observations
),

final as (
    select
        device_id,
        average_vehicle_speed as free_flow_speed_kmh,
        speed_samples
    from ranked
    -- nearest rank: the smallest value with at least p of the readings at or below it
    where speed_rank = ceiling({{ percentile }} * speed_samples)
)

select * from final
