{# Police cases mapped to the common incident columns (see incidents.yml).
   The police record carries the time the case was reported, not when it happened: that is
   the best event time available. Only the case's code fields travel on: the description and
   the reporter's identity never leave this model. #}
with cases as (
    select * from {{ ref('stg_police__security_incidents') }}
    -- Silver already drops soft-deleted cases; kept as a guard for a replayed extract.
    where not coalesce(is_deleted, false)
),

mapped as (
    select
        'security_incident:' || case_id as incident_key,
        'security_incident' as kind,
        'security_incidents' as source_dataset,
        case_id as source_id,
        reported_at as occurred_at,
        unit_code,
        lon,
        lat,
        category,
        -- Already 1 (minor) .. 4 (critical) at source; anything else becomes null and fails a test.
        case when severity between 1 and 4 then severity end as severity,
        case status
            when 'received' then 'open'
            when 'investigating' then 'in_progress'
            -- Handed to another agency (procuracy, another province): still being worked on.
            when 'transferred' then 'in_progress'
            when 'resolved' then 'closed'
        end as status,
        -- No closing time in the source: the last update of a resolved case is when it was resolved.
        case when status = 'resolved' then updated_at end as closed_at,
        cast(null as double) as measured_value,
        cast(null as double) as threshold_value
    from cases
)

select * from mapped
