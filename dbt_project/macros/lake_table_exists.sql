{# Whether a table of the lake exists yet. Optional inputs (the tables the Spark ML jobs write
   to gold) read as empty until their first run, so the marts that stack them (incidents)
   still build on a platform that has not forecast anything yet.

   DuckDB (embedded): looks for the table's Delta log under IOC_LAKE_ROOT.
   Trino (production): the deployment registers the tables in the metastore, so they exist. #}
{% macro lake_table_exists(tier, name) -%}
    {{ return(adapter.dispatch('lake_table_exists')(tier, name)) }}
{%- endmacro %}

{% macro default__lake_table_exists(tier, name) -%}
    {{ return(true) }}
{%- endmacro %}

{% macro duckdb__lake_table_exists(tier, name) -%}
    {%- if not execute -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set log_files -%}
        select count(*) from glob('{{ env_var("IOC_LAKE_ROOT") }}/{{ tier }}/{{ name }}/_delta_log/*.json')
    {%- endset -%}
    {{ return(run_query(log_files).columns[0].values()[0] > 0) }}
{%- endmacro %}
