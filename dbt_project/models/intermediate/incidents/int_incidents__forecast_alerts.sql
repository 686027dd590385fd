{# Forecast alerts as incidents: what the models expect to happen (a PM2.5 band, a water
   alarm, a crowded site), on the same map and table as what has happened.

   occurred_at     the first predicted breach; status 'forecast' until it happens or not (the
                   observed breach, if it comes, is its own incident)
   measured_value  the predicted peak; threshold_value the line it crosses #}
with alerts as (
    select * from {{ ref('forecast_alerts') }}
),

mapped as (
    select
        'forecast:' || alert_key as incident_key,
        'forecast_alert' as kind,
        source_dataset,
        alert_key as source_id,
        predicted_breach_at as occurred_at,
        unit_code,
        lon,
        lat,
        alert_type as category,
        severity,
        'forecast' as status,
        cast(null as timestamp with time zone) as closed_at,
        predicted_peak as measured_value,
        threshold_value
    from alerts
)

select * from mapped
