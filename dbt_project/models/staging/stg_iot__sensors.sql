with source as (
    select * from {{ source('silver', 'sensor_registry') }}
),

renamed as (
    select
        device_id,
        category,
        name,
        unit_code,
        lon,
        lat,
        installed_on,
        status,
        _batch_id as batch_id,
        _ingested_at as ingested_at
    from source
)

select * from renamed
