{# Daily VN_AQI per station and local day (Decision 1459/QĐ-TCMT): PM2.5 and PM10 from the
   24-hour mean; NO2, SO2 and CO from the day's highest 1h mean; O3 from the larger of the
   sub-indices of the day's highest 1h mean and highest 8h rolling mean; VN_AQI = the largest. #}
{%- set min_hours = var('vn_aqi_daily_min_hours', 18) -%}
{#- The order breaks ties for the dominant pollutant (our choice: particles first). -#}
{%- set sub_indices = [
    ('overall.aqi_pm25', 'pm25'), ('overall.aqi_pm10', 'pm10'), ('overall.aqi_o3', 'o3'),
    ('overall.aqi_no2', 'no2'), ('overall.aqi_so2', 'so2'), ('overall.aqi_co', 'co'),
] -%}

with hourly as (
    select * from {{ ref('int_air_quality_hourly_concentrations') }}
),

units as (
    select * from {{ ref('dim_admin_units') }}
),

-- Position and unit of the day's last hour.
last_hour as (
    select
        station_code,
        observed_date,
        unit_code,
        lon,
        lat,
        row_number() over (partition by station_code, observed_date order by observed_at desc) as rn
    from hourly
),

aggregated as (
    select
        station_code,
        observed_date,
        count(*) as hours_observed,
        avg(pm25) as pm25_24h,
        avg(pm10) as pm10_24h,
        max(o3) as o3_1h_max,
        max(o3_8h) as o3_8h_max,
        max(no2) as no2_1h_max,
        max(so2) as so2_1h_max,
        max(co) as co_1h_max
    from hourly
    group by 1, 2
),

sub_indices as (
    select
        *,
        {{ vn_aqi_sub_index('pm25', 'pm25_24h') }} as aqi_pm25,
        {{ vn_aqi_sub_index('pm10', 'pm10_24h') }} as aqi_pm10,
        {{ vn_aqi_sub_index('o3_1h', 'o3_1h_max') }} as aqi_o3_1h,
        {{ vn_aqi_sub_index('o3_8h', 'o3_8h_max') }} as aqi_o3_8h,
        {{ vn_aqi_sub_index('no2', 'no2_1h_max') }} as aqi_no2,
        {{ vn_aqi_sub_index('so2', 'so2_1h_max') }} as aqi_so2,
        {{ vn_aqi_sub_index('co', 'co_1h_max') }} as aqi_co
    from aggregated
),

daily as (
    select
        *,
        case
            when aqi_o3_1h is null and aqi_o3_8h is null then null
            else greatest(coalesce(aqi_o3_1h, -1), coalesce(aqi_o3_8h, -1))
        end as aqi_o3
    from sub_indices
),

overall as (
    select
        daily.*,
        {{ vn_aqi_overall(['daily.aqi_pm25', 'daily.aqi_pm10'], ['daily.aqi_o3', 'daily.aqi_no2', 'daily.aqi_so2', 'daily.aqi_co']) }} as vn_aqi
    from daily
),

final as (
    select
        overall.station_code,
        overall.observed_date,
        last_hour.unit_code,
        units.unit_version_key,
        units.unit_name_vi,
        last_hour.lon,
        last_hour.lat,
        overall.vn_aqi,
        {{ vn_aqi_dominant('overall.vn_aqi', sub_indices) }} as dominant_pollutant,
        {{ vn_aqi_band('overall.vn_aqi', 'vi') }} as aqi_band,
        {{ vn_aqi_band('overall.vn_aqi', 'en') }} as aqi_band_en,
        {{ vn_aqi_band('overall.vn_aqi', 'level') }} as aqi_level,
        {{ vn_aqi_band('overall.vn_aqi', 'colour') }} as aqi_colour_hex,
        overall.hours_observed,
        overall.hours_observed >= {{ min_hours }} as is_complete_day,
        overall.aqi_pm25,
        overall.aqi_pm10,
        overall.aqi_o3,
        overall.aqi_o3_1h,
        overall.aqi_o3_8h,
        overall.aqi_no2,
        overall.aqi_so2,
        overall.aqi_co,
        overall.pm25_24h,
        overall.pm10_24h,
        overall.o3_1h_max,
        overall.o3_8h_max,
        overall.no2_1h_max,
        overall.so2_1h_max,
        overall.co_1h_max
    from overall
    inner join last_hour
        on last_hour.station_code = overall.station_code
        and last_hour.observed_date = overall.observed_date
        and last_hour.rn = 1
    left join units
        on last_hour.unit_code = units.unit_code
        and {{ unit_valid_on('units', 'overall.observed_date') }}
)

select * from final
