with source as (
    select * from {{ source('silver', 'hotel_occupancy') }}
),

renamed as (
    select
        report_date,
        hotel_id,
        hotel_name,
        star_rating,
        unit_code,
        rooms_available,
        rooms_occupied,
        average_rate_vnd,
        _batch_id as batch_id,
        _ingested_at as ingested_at
    from source
)

select * from renamed
