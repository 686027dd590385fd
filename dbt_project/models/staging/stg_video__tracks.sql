with source as (
    select * from {{ source('video', 'video_tracks') }}
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
