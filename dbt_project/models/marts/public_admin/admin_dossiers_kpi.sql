{# Administrative-procedure KPIs per handling department, unit and day received (local time).

   "Now" is var('as_of') when given (an ISO timestamp with offset, e.g.
   `--vars '{as_of: "2026-11-20 17:00:00+07:00"}'`), else the current timestamp. Everything is
   measured as it stood at that moment: dossiers received later are left out, and a dossier
   completed later still counts as open.

   A dossier is completed once it has a completed_at (status completed, or rejected and
   returned to the applicant: both end the procedure); it is on time when completed_at <= due_at.
   on_time_rate = completed on time / completed, null while none is completed. #}
{%- set as_of = var('as_of', none) %}

with dossiers as (
    select * from {{ ref('stg_public_admin__dossiers') }}
),

units as (
    select * from {{ ref('dim_admin_units') }}
),

reference_time as (
    select
        {% if as_of -%}
        cast('{{ as_of }}' as timestamp with time zone)
        {%- else -%}
        {{ dbt.current_timestamp() }}
        {%- endif %} as as_of_at
),

flagged as (
    select
        dossiers.handling_department,
        dossiers.unit_code,
        {{ local_date('dossiers.received_at') }} as received_date,
        dossiers.completed_at,
        dossiers.due_at,
        dossiers.status,
        reference_time.as_of_at,
        dossiers.completed_at is not null and dossiers.completed_at <= reference_time.as_of_at as is_completed
    from dossiers
    cross join reference_time
    where dossiers.received_at <= reference_time.as_of_at
),

measured as (
    select
        *,
        is_completed and completed_at <= due_at as is_completed_on_time,
        is_completed and status = 'rejected' as is_rejected,
        not is_completed and due_at < as_of_at as is_overdue_open
    from flagged
),

aggregated as (
    select
        handling_department,
        unit_code,
        received_date,
        max(as_of_at) as as_of_at,
        count(*) as dossiers_received,
        sum(case when is_completed then 1 else 0 end) as dossiers_completed,
        sum(case when is_completed_on_time then 1 else 0 end) as dossiers_completed_on_time,
        sum(case when is_rejected then 1 else 0 end) as dossiers_rejected,
        sum(case when not is_completed then 1 else 0 end) as dossiers_open,
        sum(case when is_overdue_open then 1 else 0 end) as dossiers_overdue_open
    from measured
    group by handling_department, unit_code, received_date
)

select
    aggregated.handling_department,
    aggregated.unit_code,
    aggregated.received_date,
    units.unit_version_key,
    aggregated.dossiers_received,
    aggregated.dossiers_completed,
    aggregated.dossiers_completed_on_time,
    aggregated.dossiers_completed - aggregated.dossiers_completed_on_time as dossiers_completed_late,
    aggregated.dossiers_rejected,
    aggregated.dossiers_open,
    aggregated.dossiers_overdue_open,
    case
        when aggregated.dossiers_completed > 0
            then cast(aggregated.dossiers_completed_on_time as double) / aggregated.dossiers_completed
    end as on_time_rate,
    aggregated.as_of_at
from aggregated
left join units
    on aggregated.unit_code = units.unit_code
    and {{ unit_valid_on('units', 'aggregated.received_date') }}
