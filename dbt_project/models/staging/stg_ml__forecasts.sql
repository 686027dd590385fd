with source as (
    select * from {{ source('ml', 'forecasts') }}
),

renamed as (
    select
        series_kind,
        unique_id as series_id,
        ds as forecast_for,
        model as model_type,
        selected as is_selected,
        yhat as predicted_value,
        yhat_lo_80 as predicted_lo_80,
        yhat_hi_80 as predicted_hi_80,
        yhat_lo_95 as predicted_lo_95,
        yhat_hi_95 as predicted_hi_95,
        model_name,
        model_version,
        run_id,
        issued_at,
        forecast_date
    from source
)

select * from renamed
