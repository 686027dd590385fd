with source as (
    select * from {{ source('silver', 'water_levels') }}
),

renamed as (
    select
        station_code,
        observed_at,
        water_level_cm,
        rainfall_mm,
        _batch_id as batch_id,
        _ingested_at as ingested_at
    from source
)

select * from renamed
