{# Arrivals per site and day, placed on the unit that was valid on that day.
   Incremental like water_levels: reports that arrived within the late-data window are
   reprocessed and replace their (site, day) rows; a corrected report re-sent weeks later
   still lands. #}
{{ config(
    materialized='incremental',
    unique_key=['site_code', 'report_date'],
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    meta={'delta_publish': {'keys': ['site_code', 'report_date'], 'partition_by': ['report_date'],
                           'watermark': 'ingested_at', 'window_hours': var('late_data_window_hours', 48)}},
) }}
with arrivals as (
    select * from {{ ref('stg_tourism__daily_arrivals') }}
    {% if is_incremental() %}
    where ingested_at > (
        select {{ dbt.dateadd('hour', -var('late_data_window_hours', 48), 'max(ingested_at)') }} from {{ this }}
    )
    {% endif %}
),

units as (
    select * from {{ ref('dim_admin_units') }}
),

joined as (
    select
        arrivals.report_date,
        arrivals.site_code,
        arrivals.site_name,
        arrivals.unit_code,
        units.unit_version_key,
        units.unit_name_vi,
        arrivals.domestic_visitors,
        arrivals.international_visitors,
        arrivals.domestic_visitors + arrivals.international_visitors as total_visitors,
        arrivals.revenue_vnd,
        {{ is_weekend('arrivals.report_date') }} as is_weekend,
        arrivals.ingested_at
    from arrivals
    left join units
        on arrivals.unit_code = units.unit_code
        and {{ unit_valid_on('units', 'arrivals.report_date') }}
)

select * from joined
