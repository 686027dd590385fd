{# Traffic incidents from the transport department mapped to the common incident columns
   (see incidents.yml). The reporter's phone number never leaves this model. #}
with traffic as (
    select * from {{ ref('stg_transport__traffic_incidents') }}
    -- Silver already drops soft-deleted incidents; kept as a guard for a replayed extract.
    where not coalesce(is_deleted, false)
),

mapped as (
    select
        'traffic_incident:' || cast(incident_id as {{ dbt.type_string() }}) as incident_key,
        'traffic_incident' as kind,
        'traffic_incidents' as source_dataset,
        cast(incident_id as {{ dbt.type_string() }}) as source_id,
        occurred_at,
        unit_code,
        lon,
        lat,
        incident_type as category,
        -- Already 1 (minor) .. 4 (critical) at source.
        case when severity between 1 and 4 then severity end as severity,
        case status
            when 'reported' then 'open'
            when 'dispatched' then 'in_progress'
            when 'on_scene' then 'in_progress'
            when 'cleared' then 'closed'
        end as status,
        -- No clearing time in the source: the last update of a cleared incident is its clearing.
        case when status = 'cleared' then updated_at end as closed_at,
        cast(null as double) as measured_value,
        cast(null as double) as threshold_value
    from traffic
)

select * from mapped
