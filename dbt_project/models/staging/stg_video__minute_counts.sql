{# People and vehicles per camera, segment and minute, from the video indexing job. Until its
   first run the table does not exist and this model is empty (lake_table_exists), so
   everything downstream still builds. #}
with source as (
    {% if lake_table_exists('gold', 'video_minute_counts') %}
    select * from {{ source('video', 'video_minute_counts') }}
    {% else %}
    select
        cast(null as {{ dbt.type_string() }}) as segment_id,
        cast(null as {{ dbt.type_string() }}) as camera_id,
        cast(null as date) as segment_date,
        cast(null as timestamp with time zone) as minute,
        cast(null as integer) as people,
        cast(null as integer) as vehicles,
        cast(null as integer) as people_peak,
        cast(null as integer) as vehicles_peak,
        cast(null as integer) as crossings_in,
        cast(null as integer) as crossings_out,
        cast(null as double) as seconds_observed,
        cast(null as double) as seconds_dark
    where 1 = 0
    {% endif %}
),

renamed as (
    select
        camera_id,
        segment_id,
        segment_date,
        minute,
        people,
        vehicles,
        people_peak,
        vehicles_peak,
        crossings_in,
        crossings_out,
        seconds_observed,
        seconds_dark
    from source
)

select * from renamed
