with source as (
    select * from {{ source('silver', 'water_quality_observed') }}
),

renamed as (
    select
        station_code,
        sampled_at,
        ph,
        dissolved_oxygen,
        turbidity,
        temperature,
        salinity,
        lon,
        lat,
        unit_code,
        _batch_id as batch_id,
        _ingested_at as ingested_at
    from source
)

select * from renamed
