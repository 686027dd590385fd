{# Citizen reports (Open311) mapped to the common incident columns (see incidents.yml).
   Address, description, email and phone stay behind. The "acknowledged" rule is the one
   marts/citizen/citizen_requests uses: an open request with status notes has been forwarded
   to an agency, so it is in progress. #}
with requests as (
    select * from {{ ref('stg_open311__service_requests') }}
),

mapped as (
    select
        'citizen_report:' || service_request_id as incident_key,
        'citizen_report' as kind,
        'citizen_requests' as source_dataset,
        service_request_id as source_id,
        requested_datetime as occurred_at,
        unit_code,
        lon,
        lat,
        service_code as category,
        -- Open311 has no severity: hazards to people or traffic rank 2, nuisances 1.
        case
            when service_code in ('flooding', 'fallen_tree', 'traffic_signal') then 2
            else 1
        end as severity,
        -- The contract owner: the IOC runs the citizen-report desk and its SLA, whichever
        -- agency (agency_responsible) it forwards a report to.
        case
            when status = 'closed' then 'closed'
            when status_notes is not null then 'in_progress'
            else 'open'
        end as status,
        case when status = 'closed' then updated_datetime end as closed_at,
        cast(null as double) as measured_value,
        cast(null as double) as threshold_value
    from requests
)

select * from mapped
