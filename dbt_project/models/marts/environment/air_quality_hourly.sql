{# Hourly VN_AQI per station (Decision 1459/QĐ-TCMT): sub-index per parameter from the 1h mean
   (O3 on the 1h column of the breakpoint table), PM2.5 and PM10 from their 12-hour NowCast;
   VN_AQI = the largest sub-index, placed on the unit valid on the local date. #}
{#- The order breaks ties for the dominant pollutant (our choice: particles first). -#}
{%- set sub_indices = [
    ('overall.aqi_pm25', 'pm25'), ('overall.aqi_pm10', 'pm10'), ('overall.aqi_o3', 'o3'),
    ('overall.aqi_no2', 'no2'), ('overall.aqi_so2', 'so2'), ('overall.aqi_co', 'co'),
] %}

with concentrations as (
    select * from {{ ref('int_air_quality_hourly_concentrations') }}
),

units as (
    select * from {{ ref('dim_admin_units') }}
),

sub_indices as (
    select
        *,
        {{ vn_aqi_sub_index('pm25', 'pm25_nowcast') }} as aqi_pm25,
        {{ vn_aqi_sub_index('pm10', 'pm10_nowcast') }} as aqi_pm10,
        {{ vn_aqi_sub_index('o3_1h', 'o3') }} as aqi_o3,
        {{ vn_aqi_sub_index('no2', 'no2') }} as aqi_no2,
        {{ vn_aqi_sub_index('so2', 'so2') }} as aqi_so2,
        {{ vn_aqi_sub_index('co', 'co') }} as aqi_co
    from concentrations
),

overall as (
    select
        *,
        {{ vn_aqi_overall(['aqi_pm25', 'aqi_pm10'], ['aqi_o3', 'aqi_no2', 'aqi_so2', 'aqi_co']) }} as vn_aqi
    from sub_indices
),

final as (
    select
        overall.station_code,
        overall.observed_at,
        overall.observed_date,
        overall.unit_code,
        units.unit_version_key,
        units.unit_name_vi,
        overall.lon,
        overall.lat,
        overall.vn_aqi,
        {{ vn_aqi_dominant('overall.vn_aqi', sub_indices) }} as dominant_pollutant,
        {{ vn_aqi_band('overall.vn_aqi', 'vi') }} as aqi_band,
        {{ vn_aqi_band('overall.vn_aqi', 'en') }} as aqi_band_en,
        {{ vn_aqi_band('overall.vn_aqi', 'level') }} as aqi_level,
        {{ vn_aqi_band('overall.vn_aqi', 'colour') }} as aqi_colour_hex,
        overall.aqi_pm25,
        overall.aqi_pm10,
        overall.aqi_o3,
        overall.aqi_no2,
        overall.aqi_so2,
        overall.aqi_co,
        overall.pm25_nowcast,
        overall.pm10_nowcast,
        overall.pm25,
        overall.pm10,
        overall.o3,
        overall.no2,
        overall.so2,
        overall.co,
        overall.temperature,
        overall.relative_humidity
    from overall
    left join units
        on overall.unit_code = units.unit_code
        and {{ unit_valid_on('units', 'overall.observed_date') }}
)

select * from final
