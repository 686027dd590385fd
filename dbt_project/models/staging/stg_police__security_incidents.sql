with source as (
    select * from {{ source('silver', 'security_incidents') }}
),

renamed as (
    select
        case_id,
        reported_at,
        category,
        severity,
        unit_code,
        lon,
        lat,
        status,
        description,
        reporter_name,
        reporter_phone,
        reporter_id_number,
        updated_at,
        is_deleted,
        _batch_id as batch_id,
        _ingested_at as ingested_at
    from source
)

select * from renamed
