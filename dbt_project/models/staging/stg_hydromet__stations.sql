with source as (
    select * from {{ source('silver', 'hydro_stations') }}
),

renamed as (
    select
        station_code,
        station_name,
        river,
        unit_code,
        lon,
        lat,
        alarm_1_cm,
        alarm_2_cm,
        alarm_3_cm,
        _batch_id as batch_id,
        _ingested_at as ingested_at
    from source
)

select * from renamed
