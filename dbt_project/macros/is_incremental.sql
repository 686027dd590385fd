{# dbt's is_incremental(), plus one switch: with `--vars '{assume_incremental: true|false}'`
   the answer is given instead of asked of the warehouse. The Trino portability test compiles
   both branches of every incremental model that way, with no Trino server to ask. #}
{% macro is_incremental() %}
    {% if not execute %}
        {{ return(False) }}
    {% elif var('assume_incremental', none) is not none %}
        {{ return(var('assume_incremental') and model.config.materialized == 'incremental') }}
    {% else %}
        {% set relation = adapter.get_relation(this.database, this.schema, this.table) %}
        {{ return(relation is not none
                  and relation.type == 'table'
                  and model.config.materialized == 'incremental'
                  and not should_full_refresh()) }}
    {% endif %}
{% endmacro %}
