{# The version of an administrative unit in force on `day`: valid_from inclusive, valid_to
   exclusive (null = still in force). Joins facts to dim_admin_units as of their date. #}
{% macro unit_valid_on(units, day) -%}
    {{ units }}.valid_from <= {{ day }}
    and ({{ units }}.valid_to is null or {{ day }} < {{ units }}.valid_to)
{%- endmacro %}
