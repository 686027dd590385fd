with source as (
    select * from {{ source('silver', 'camera_registry') }}
),

renamed as (
    select
        camera_id,
        name,
        purpose,
        unit_code,
        road_segment,
        lon,
        lat,
        stream_url,
        stream_kind,
        direction,
        installed_on,
        status,
        _batch_id as batch_id,
        _ingested_at as ingested_at
    from source
)

select * from renamed
