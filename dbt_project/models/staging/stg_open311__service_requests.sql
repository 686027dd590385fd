with source as (
    select * from {{ source('silver', 'citizen_requests') }}
),

renamed as (
    select
        service_request_id,
        service_code,
        service_name,
        status,
        status_notes,
        agency_responsible,
        requested_datetime,
        updated_datetime,
        expected_datetime,
        lon,
        lat,
        address,
        description,
        media_url,
        email,
        phone,
        unit_code,
        _batch_id as batch_id,
        _ingested_at as ingested_at
    from source
)

select * from renamed
