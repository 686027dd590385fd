{# One row per unit version; valid_to is exclusive and null while the unit exists.
   Facts join on unit_code and their event date between valid_from and valid_to. #}
select
    unit_code || '@' || cast(valid_from as {{ dbt.type_string() }}) as unit_version_key,
    unit_code,
    unit_name_vi,
    unit_name_en,
    unit_level,
    parent_code,
    successor_code,
    former_district_code,
    code_status,
    valid_from,
    valid_to,
    valid_to is null as is_current,
    centroid_lon,
    centroid_lat
from {{ ref('stg_reference__admin_units') }}
