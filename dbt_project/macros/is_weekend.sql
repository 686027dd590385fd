{# Saturday or Sunday, on either engine (DuckDB's dayofweek counts from Sunday = 0, Trino's
   day_of_week from Monday = 1). #}
{% macro is_weekend(day) -%}
    {{ return(adapter.dispatch('is_weekend')(day)) }}
{%- endmacro %}

{% macro default__is_weekend(day) -%}
    day_of_week({{ day }}) in (6, 7)
{%- endmacro %}

{% macro duckdb__is_weekend(day) -%}
    dayofweek({{ day }}) in (0, 6)
{%- endmacro %}
