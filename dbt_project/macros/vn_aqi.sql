{#
  Vietnamese air-quality index (VN_AQI), Decision 1459/QĐ-TCMT of 12 November 2019 of the
  Vietnam Environment Administration (Tổng cục Môi trường), "Hướng dẫn kỹ thuật tính toán và
  công bố chỉ số chất lượng không khí Việt Nam (VN_AQI)".

  Every macro here emits plain, portable SQL (CASE, arithmetic, round, cast, coalesce,
  greatest): it compiles the same on DuckDB and Trino. `double` is used rather than
  dbt.type_float(), which dbt-duckdb renders as FLOAT, a 4-byte REAL.

  Sub-index of one pollutant (the decision's formula):
      AQI_x = (I[i+1] - I[i]) / (BP[i+1] - BP[i]) * (C_x - BP[i]) + I[i]
  with BP[i] <= C_x <= BP[i+1], then rounded to an integer.
#}

{#- Ii: the index at each breakpoint (first column of the decision's breakpoint table). -#}
{% macro vn_aqi_index_breakpoints() %}
    {{ return([0, 50, 100, 150, 200, 300, 400, 500]) }}
{% endmacro %}

{#- BPi: concentration breakpoints in µg/m³, one list per parameter, aligned with Ii.
    O3 (8h) stops at Ii = 300 (400 µg/m³): above it the decision uses the 1h value. -#}
{% macro vn_aqi_concentration_breakpoints() %}
    {{ return({
        'o3_1h': [0, 160, 200, 300, 400, 800, 1000, 1200],
        'o3_8h': [0, 100, 120, 170, 210, 400],
        'co':    [0, 10000, 30000, 45000, 60000, 90000, 120000, 150000],
        'so2':   [0, 125, 350, 550, 800, 1600, 2100, 2630],
        'no2':   [0, 100, 200, 700, 1200, 2350, 3100, 3850],
        'pm10':  [0, 50, 150, 250, 350, 420, 500, 600],
        'pm25':  [0, 25, 50, 80, 150, 250, 350, 500],
    }) }}
{% endmacro %}

{#- Un-rounded sub-index as a CASE expression. Null concentration -> null; at or below 0 -> 0;
    above the last breakpoint -> the last index (500, or 300 for O3 8h): capped, not extrapolated. -#}
{% macro vn_aqi_sub_index_raw(parameter, concentration) %}
    {%- set bps = vn_aqi_concentration_breakpoints()[parameter] -%}
    {%- set idx = vn_aqi_index_breakpoints() -%}
    {%- set c = 'cast(' ~ concentration ~ ' as double)' -%}
    case
        when {{ c }} is null then null
        when {{ c }} <= 0 then 0
    {%- for i in range(bps | length - 1) %}
        when {{ c }} <= {{ bps[i + 1] }} then {{ idx[i] }} + ({{ c }} - {{ bps[i] }}) * {{ idx[i + 1] - idx[i] }} / {{ bps[i + 1] - bps[i] }}
    {%- endfor %}
        else {{ idx[bps | length - 1] }}
    end
{%- endmacro %}

{#- Sub-index rounded to an integer, as the decision publishes it. -#}
{% macro vn_aqi_sub_index(parameter, concentration) -%}
    cast(round({{ vn_aqi_sub_index_raw(parameter, concentration) }}, 0) as integer)
{%- endmacro %}

{#- Overall VN_AQI = the largest sub-index. The decision requires at least one of PM10 and PM2.5:
    without both, the result is null. coalesce(..., -1) because Trino's greatest() returns null
    as soon as one argument is null while DuckDB's skips nulls. -#}
{% macro vn_aqi_overall(pm_columns, other_columns) -%}
    case
        when {% for col in pm_columns %}{{ col }} is null{% if not loop.last %} and {% endif %}{% endfor %} then null
        else greatest({% for col in pm_columns + other_columns %}coalesce({{ col }}, -1){% if not loop.last %}, {% endif %}{% endfor %})
    end
{%- endmacro %}

{#- Name of the parameter whose sub-index equals the overall index; ties go to the first listed.
    columns: list of (column, label) pairs. -#}
{% macro vn_aqi_dominant(overall, columns) -%}
    case
    {%- for col, label in columns %}
        when {{ col }} = {{ overall }} then '{{ label }}'
    {%- endfor %}
    end
{%- endmacro %}

{#- Bands of the decision's table 1 (on the integer index). -#}
{% macro vn_aqi_bands() %}
    {{ return([
        {'upper': 50,  'level': 1, 'vi': 'Tốt',        'en': 'Good',      'colour': '#00E400'},
        {'upper': 100, 'level': 2, 'vi': 'Trung bình', 'en': 'Moderate',  'colour': '#FFFF00'},
        {'upper': 150, 'level': 3, 'vi': 'Kém',        'en': 'Poor',      'colour': '#FF7E00'},
        {'upper': 200, 'level': 4, 'vi': 'Xấu',        'en': 'Bad',       'colour': '#FF0000'},
        {'upper': 300, 'level': 5, 'vi': 'Rất xấu',    'en': 'Very bad',  'colour': '#8F3F97'},
        {'upper': 500, 'level': 6, 'vi': 'Nguy hại',   'en': 'Hazardous', 'colour': '#7E0023'},
    ]) }}
{% endmacro %}

{#- attribute: 'vi' (band name), 'en', 'colour' (hex) or 'level' (1-6). -#}
{% macro vn_aqi_band(aqi, attribute='vi') -%}
    {%- set bands = vn_aqi_bands() -%}
    case
        when {{ aqi }} is null then null
    {%- for band in bands %}
        when {{ aqi }} <= {{ band['upper'] }} then {% if attribute == 'level' %}{{ band['level'] }}{% else %}'{{ band[attribute] }}'{% endif %}
    {%- endfor %}
        else {% if attribute == 'level' %}{{ bands[-1]['level'] }}{% else %}'{{ bands[-1][attribute] }}'{% endif %}
    end
{%- endmacro %}
