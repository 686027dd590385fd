{# Objects tracked by the video indexing job. Until its first run the table does not exist and
   this model is empty (lake_table_exists), so everything downstream still builds. #}
with source as (
    {% if lake_table_exists('gold', 'video_tracks') %}
    select * from {{ source('video', 'video_tracks') }}
    {% else %}
    select
        cast(null as {{ dbt.type_string() }}) as segment_id,
        cast(null as {{ dbt.type_string() }}) as camera_id,
        cast(null as date) as segment_date,
        cast(null as {{ dbt.type_string() }}) as track_id,
        cast(null as {{ dbt.type_string() }}) as object_class,
        cast(null as timestamp with time zone) as first_seen,
        cast(null as timestamp with time zone) as last_seen,
        cast(null as double) as duration_s,
        cast(null as integer) as observations,
        cast(null as integer) as detector_hits,
        cast(null as double) as max_score,
        cast(null as double) as speed_px_s,
        cast(null as {{ dbt.type_string() }}) as crossing,
        cast(null as double) as stopped_s,
        cast(null as double) as entry_x,
        cast(null as double) as entry_y,
        cast(null as double) as exit_x,
        cast(null as double) as exit_y,
        cast(null as {{ dbt.type_string() }}) as path,
        cast(null as {{ dbt.type_string() }}) as thumbnail_uri
    where 1 = 0
    {% endif %}
),

renamed as (
    select
        track_id,
        segment_id,
        camera_id,
        segment_date,
        object_class,
        first_seen as first_seen_at,
        last_seen as last_seen_at,
        duration_s,
        observations,
        detector_hits,
        max_score,
        speed_px_s,
        crossing as crossing_direction,
        stopped_s,
        entry_x,
        entry_y,
        exit_x,
        exit_y,
        path as path_json,
        thumbnail_uri
    from source
)

select * from renamed
