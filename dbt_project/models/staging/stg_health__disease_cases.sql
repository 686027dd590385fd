with source as (
    select * from {{ source('silver', 'disease_surveillance') }}
),

renamed as (
    select
        case_id,
        report_week,
        disease_code,
        onset_date,
        unit_code,
        sex,
        age_years,
        outcome,
        patient_name,
        citizen_id,
        phone,
        _batch_id as batch_id,
        _ingested_at as ingested_at
    from source
)

select * from renamed
