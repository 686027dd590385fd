with source as (
    select * from {{ source('video', 'video_minute_counts') }}
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
