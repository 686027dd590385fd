{# Use the folder's schema (staging, intermediate, gold) as is, not "<target>_<schema>":
   the tiers are names departments and dashboards rely on. #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name if custom_schema_name else target.schema }}
{%- endmacro %}
