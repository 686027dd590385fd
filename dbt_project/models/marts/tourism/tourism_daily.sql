{# Arrivals per site and day, placed on the unit that was valid on that day. #}
with arrivals as (
    select * from {{ ref('stg_tourism__daily_arrivals') }}
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
        dayofweek(arrivals.report_date) in (0, 6) as is_weekend
    from arrivals
    left join units
        on arrivals.unit_code = units.unit_code
        and arrivals.report_date >= units.valid_from
        and (units.valid_to is null or arrivals.report_date < units.valid_to)
)

select * from joined
