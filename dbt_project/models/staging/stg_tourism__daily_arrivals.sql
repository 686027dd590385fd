with source as (
    select * from {{ source('silver', 'tourism_daily_arrivals') }}
),

renamed as (
    select
        site_code,
        report_date,
        site_name,
        unit_code,
        cast(domestic_visitors as integer) as domestic_visitors,
        cast(international_visitors as integer) as international_visitors,
        cast(revenue_vnd as decimal(18, 0)) as revenue_vnd,
        _batch_id as batch_id,
        _ingested_at as ingested_at
    from source
)

select * from renamed
