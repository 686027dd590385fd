{# Cameras connected to the IOC, named after the administrative unit in force today.
   A registry row whose unit_code has no current version keeps a null unit_version_key
   (the not_null test below then flags it). #}
with cameras as (
    select * from {{ ref('stg_vms__cameras') }}
),

current_units as (
    select * from {{ ref('dim_admin_units') }}
    where is_current
)

select
    cameras.camera_id,
    cameras.name as camera_name,
    cameras.purpose,
    cameras.status,
    cameras.status = 'online' as is_online,
    cameras.unit_code,
    current_units.unit_version_key,
    current_units.unit_name_vi,
    current_units.unit_name_en,
    current_units.unit_level,
    cameras.road_segment,
    cameras.direction,
    cameras.stream_kind,
    cameras.stream_url,
    cameras.installed_on,
    cameras.lon,
    cameras.lat,
    cameras.ingested_at
from cameras
left join current_units
    on cameras.unit_code = current_units.unit_code
