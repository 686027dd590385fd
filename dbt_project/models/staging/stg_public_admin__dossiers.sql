with source as (
    select * from {{ source('silver', 'admin_dossiers') }}
),

renamed as (
    select
        dossier_id,
        procedure_code,
        procedure_name,
        handling_department,
        unit_code,
        channel,
        received_at,
        due_at,
        completed_at,
        status,
        applicant_id_number,
        updated_at,
        _batch_id as batch_id,
        _ingested_at as ingested_at
    from source
)

select * from renamed
