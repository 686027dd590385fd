{# Video events as incidents: what the video indexing job saw on a camera (a crowd above its
   threshold, a vehicle stopped too long, the picture lost, the camera tampered with), placed
   at the camera's position and unit (camera registry), as water-level alarms are placed at
   their station.

   occurred_at     the event's first frame
   category        the event type; severity as the job set it (crowd, stopped_vehicle 2;
                   blackout, tampering 3)
   status          open: an operator closes it, the video does not
   measured_value  the event's measure at its peak (people, seconds stopped, seconds dark);
                   threshold_value the camera's threshold it crossed
   source_dataset  video_segments: the recorded segments the job indexed (its owner owns the
                   incident) #}
with events as (
    select * from {{ ref('stg_video__events') }}
),

cameras as (
    select * from {{ ref('stg_vms__cameras') }}
),

mapped as (
    select
        'video:' || events.event_id as incident_key,
        'video_event' as kind,
        'video_segments' as source_dataset,
        events.event_id as source_id,
        events.started_at as occurred_at,
        cameras.unit_code,
        cameras.lon,
        cameras.lat,
        events.event_type as category,
        events.severity,
        'open' as status,
        cast(null as timestamp with time zone) as closed_at,
        events.measured_value,
        events.threshold_value
    from events
    inner join cameras
        on events.camera_id = cameras.camera_id
)

select * from mapped
