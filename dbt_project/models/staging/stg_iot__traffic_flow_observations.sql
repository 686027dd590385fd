with source as (
    select * from {{ source('silver', 'traffic_flow_observed') }}
),

renamed as (
    select
        entity_id,
        device_id,
        road_segment,
        date_observed,
        intensity,
        occupancy,
        average_vehicle_speed,
        congested,
        lon,
        lat,
        unit_code,
        _batch_id as batch_id,
        _ingested_at as ingested_at
    from source
)

select * from renamed
