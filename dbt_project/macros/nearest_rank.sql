{# The p-th percentile by nearest rank: the smallest value with at least p of the rows at or
   below it. Window functions rather than quantile_cont / approx_percentile, so that DuckDB
   and Trino give the same figure. percentile_rank_columns() goes in one CTE's select list,
   is_nearest_rank() filters the next CTE on those columns (a window function cannot be
   filtered in its own select without QUALIFY, which Trino lacks). #}
{% macro percentile_rank_columns(value, partition_by) -%}
    row_number() over (partition by {{ partition_by }} order by {{ value }}) as percentile_rank,
    count(*) over (partition by {{ partition_by }}) as percentile_samples
{%- endmacro %}

{% macro is_nearest_rank(percentile) -%}
    percentile_rank = ceiling({{ percentile }} * percentile_samples)
{%- endmacro %}
