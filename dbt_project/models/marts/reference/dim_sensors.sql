{# IoT devices (FIWARE Device), named after the administrative unit in force today. #}
with sensors as (
    select * from {{ ref('stg_iot__sensors') }}
),

current_units as (
    select * from {{ ref('dim_admin_units') }}
    where is_current
)

select
    sensors.device_id,
    sensors.name as sensor_name,
    sensors.category,
    sensors.status,
    sensors.status = 'active' as is_active,
    sensors.unit_code,
    current_units.unit_version_key,
    current_units.unit_name_vi,
    current_units.unit_name_en,
    current_units.unit_level,
    sensors.installed_on,
    sensors.lon,
    sensors.lat,
    sensors.ingested_at
from sensors
left join current_units
    on sensors.unit_code = current_units.unit_code
