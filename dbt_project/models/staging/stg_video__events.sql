{# Events the video indexing job raised (crowd, stopped vehicle, blackout, tampering). Until
   its first run the table does not exist and this model is empty (lake_table_exists), so
   everything downstream (incidents) still builds. #}
with source as (
    {% if lake_table_exists('gold', 'video_events') %}
    select * from {{ source('video', 'video_events') }}
    {% else %}
    select
        cast(null as {{ dbt.type_string() }}) as segment_id,
        cast(null as {{ dbt.type_string() }}) as camera_id,
        cast(null as date) as segment_date,
        cast(null as {{ dbt.type_string() }}) as event_id,
        cast(null as {{ dbt.type_string() }}) as event_type,
        cast(null as timestamp with time zone) as started_at,
        cast(null as timestamp with time zone) as ended_at,
        cast(null as integer) as severity,
        cast(null as double) as value,
        cast(null as double) as threshold,
        cast(null as {{ dbt.type_string() }}) as track_id,
        cast(null as {{ dbt.type_string() }}) as detail,
        cast(null as {{ dbt.type_string() }}) as thumbnail_uri
    where 1 = 0
    {% endif %}
),

renamed as (
    select
        event_id,
        segment_id,
        camera_id,
        segment_date,
        event_type,
        started_at,
        ended_at,
        severity,
        value as measured_value,
        threshold as threshold_value,
        track_id,
        detail,
        thumbnail_uri
    from source
)

select * from renamed
