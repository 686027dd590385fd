with source as (
    select * from {{ source('silver', 'video_segments') }}
),

renamed as (
    select
        segment_id,
        camera_id,
        start_time,
        end_time,
        uri,
        fps,
        width,
        height,
        size_bytes,
        frame_count,
        checksum_sha256,
        object_uri,
        _batch_id as batch_id,
        _ingested_at as ingested_at
    from source
)

select * from renamed
