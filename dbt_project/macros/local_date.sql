{# The calendar date of an instant in the province's time zone (var `timezone`, from the
   platform setting IOC_TIMEZONE). `ts at time zone 'Zone'` gives local wall time in DuckDB
   and Trino alike. #}
{% macro local_date(ts) -%}
    cast({{ ts }} at time zone '{{ var("timezone") }}' as date)
{%- endmacro %}
