{# The alarm level (báo động) a water level reaches at a station: 0 below alarm I, else the
   highest of I/II/III it is at or above. One rule, used by the water_levels mart and by the
   alarm incidents. #}
{% macro water_alarm_level(level, stations) -%}
    case
        when {{ level }} >= {{ stations }}.alarm_3_cm then 3
        when {{ level }} >= {{ stations }}.alarm_2_cm then 2
        when {{ level }} >= {{ stations }}.alarm_1_cm then 1
        else 0
    end
{%- endmacro %}
