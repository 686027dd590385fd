with source as (
    select * from {{ source('silver', 'admin_units') }}
),

renamed as (
    select
        unit_code,
        valid_from,
        valid_to,
        name_vi as unit_name_vi,
        name_en as unit_name_en,
        level as unit_level,
        parent_code,
        successor_code,
        former_district_code,
        code_status,
        centroid_lon,
        centroid_lat
    from source
)

select * from renamed
