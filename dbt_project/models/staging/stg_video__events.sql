with source as (
    select * from {{ source('video', 'video_events') }}
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
