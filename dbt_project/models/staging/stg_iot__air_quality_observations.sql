with source as (
    select * from {{ source('silver', 'air_quality_observed') }}
),

renamed as (
    select
        entity_id,
        station_code,
        date_observed,
        pm25,
        pm10,
        no2,
        so2,
        co,
        o3,
        temperature,
        relative_humidity,
        lon,
        lat,
        unit_code,
        _batch_id as batch_id,
        _ingested_at as ingested_at
    from source
)

select * from renamed
