{# Forecasts written by the forecasting job. Until its first run the table does not exist and
   this model is empty (lake_table_exists), so everything downstream still builds. #}
with source as (
    {% if lake_table_exists('gold', 'forecasts') %}
    select * from {{ source('ml', 'forecasts') }}
    {% else %}
    select
        cast(null as {{ dbt.type_string() }}) as series_kind,
        cast(null as {{ dbt.type_string() }}) as unique_id,
        cast(null as timestamp with time zone) as ds,
        cast(null as {{ dbt.type_string() }}) as model,
        cast(null as boolean) as selected,
        cast(null as double) as yhat,
        cast(null as double) as yhat_lo_80,
        cast(null as double) as yhat_hi_80,
        cast(null as double) as yhat_lo_95,
        cast(null as double) as yhat_hi_95,
        cast(null as {{ dbt.type_string() }}) as model_name,
        cast(null as {{ dbt.type_string() }}) as model_version,
        cast(null as {{ dbt.type_string() }}) as run_id,
        cast(null as timestamp with time zone) as issued_at,
        cast(null as date) as forecast_date
    where 1 = 0
    {% endif %}
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
