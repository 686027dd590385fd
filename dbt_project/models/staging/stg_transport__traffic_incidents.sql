with source as (
    select * from {{ source('silver', 'traffic_incidents') }}
),

renamed as (
    select
        incident_id,
        occurred_at,
        incident_type,
        severity,
        road_name,
        lon,
        lat,
        unit_code,
        injuries,
        fatalities,
        status,
        reporter_phone,
        updated_at,
        is_deleted,
        _batch_id as batch_id,
        _ingested_at as ingested_at
    from source
)

select * from renamed
