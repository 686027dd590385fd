{# People and vehicles per camera and minute (UTC), from the video index: the segments of a
   camera that cover the same minute (a minute split across two segments) are added up,
   their peaks are the larger of the two. Placed at the camera (dim_cameras). Empty until the
   video indexing job first runs. #}
with minute_counts as (
    select * from {{ ref('stg_video__minute_counts') }}
),

cameras as (
    select * from {{ ref('dim_cameras') }}
),

aggregated as (
    select
        camera_id,
        minute,
        count(distinct segment_id) as segments,
        sum(people) as people,
        sum(vehicles) as vehicles,
        max(people_peak) as people_peak,
        max(vehicles_peak) as vehicles_peak,
        sum(crossings_in) as crossings_in,
        sum(crossings_out) as crossings_out,
        sum(seconds_observed) as seconds_observed,
        sum(seconds_dark) as seconds_dark
    from minute_counts
    group by camera_id, minute
),

final as (
    select
        aggregated.camera_id,
        aggregated.minute,
        {{ local_date('aggregated.minute') }} as minute_date_local,
        cameras.camera_name,
        cameras.purpose,
        cameras.road_segment,
        cameras.unit_code,
        cameras.unit_version_key,
        cameras.unit_name_vi,
        cameras.lon,
        cameras.lat,
        aggregated.segments,
        aggregated.people,
        aggregated.vehicles,
        aggregated.people_peak,
        aggregated.vehicles_peak,
        aggregated.crossings_in,
        aggregated.crossings_out,
        aggregated.seconds_observed,
        aggregated.seconds_dark
    from aggregated
    left join cameras
        on aggregated.camera_id = cameras.camera_id
)

select * from final
