{# Hourly concentrations per station with the averages VN_AQI needs (Decision 1459/QĐ-TCMT):
   the 1h mean of every parameter, the NowCast of PM2.5 and PM10 over the last 12 hours, and the
   8h rolling mean of O3 (for the daily index). Rows exist only for hours with a reading. #}

with observations as (
    select * from {{ ref('stg_iot__air_quality_observations') }}
),

-- Silver is hourly; averaging within the hour also covers stations that report more often.
hourly as (
    select
        station_code,
        {{ dbt.date_trunc('hour', 'date_observed') }} as observed_at,
        avg(pm25) as pm25,
        avg(pm10) as pm10,
        avg(o3) as o3,
        avg(no2) as no2,
        avg(so2) as so2,
        avg(co) as co,
        avg(temperature) as temperature,
        avg(relative_humidity) as relative_humidity,
        count(*) as readings
    from observations
    group by 1, 2
),

-- Position and unit of the hour's last reading (a station does not move within an hour).
last_reading as (
    select
        station_code,
        {{ dbt.date_trunc('hour', 'date_observed') }} as observed_at,
        unit_code,
        lon,
        lat,
        row_number() over (
            partition by station_code, {{ dbt.date_trunc('hour', 'date_observed') }}
            order by date_observed desc
        ) as rn
    from observations
),

-- lag_hours = i - 1 in the decision's notation (0 = the current hour), for the 12-hour window.
lags as (
    {% for lag in range(12) -%}
    select {{ lag }} as lag_hours{% if not loop.last %} union all
    {% endif %}
    {%- endfor %}
),

-- Every hour paired with the station's hours among the 12 ending with it (an equi-join on the
-- shifted hour: no date-difference function, which dbt renders differently per engine).
trailing_hours as (
    select
        cur.station_code,
        cur.observed_at,
        lags.lag_hours,
        prev.pm25,
        prev.pm10,
        prev.o3
    from hourly as cur
    cross join lags
    inner join hourly as prev
        on prev.station_code = cur.station_code
        and prev.observed_at = {{ dbt.dateadd('hour', '-lags.lag_hours', 'cur.observed_at') }}
),

-- w* = c_min / c_max over the 12 hours; w = w* if w* > 1/2, else 1/2 (w = 1 when all are 0).
weights as (
    select
        station_code,
        observed_at,
        case
            when max(pm25) is null then null
            when max(pm25) = 0 then 1
            when min(pm25) / max(pm25) > 0.5 then min(pm25) / max(pm25)
            else 0.5
        end as pm25_w,
        case
            when max(pm10) is null then null
            when max(pm10) = 0 then 1
            when min(pm10) / max(pm10) > 0.5 then min(pm10) / max(pm10)
            else 0.5
        end as pm10_w,
        sum(case when lag_hours <= 2 and pm25 is not null then 1 else 0 end) as pm25_recent_hours,
        sum(case when lag_hours <= 2 and pm10 is not null then 1 else 0 end) as pm10_recent_hours
    from trailing_hours
    group by 1, 2
),

-- NowCast = sum(w^(i-1) * c_i) / sum(w^(i-1)) over the hours present; it needs at least two of
-- c1, c2, c3 (the current and the two previous hours), else it is not computed.
nowcast as (
    select
        trailing_hours.station_code,
        trailing_hours.observed_at,
        case when max(weights.pm25_recent_hours) >= 2 then
            sum(case when trailing_hours.pm25 is not null then power(weights.pm25_w, trailing_hours.lag_hours) * trailing_hours.pm25 end)
            / sum(case when trailing_hours.pm25 is not null then power(weights.pm25_w, trailing_hours.lag_hours) end)
        end as pm25_nowcast,
        case when max(weights.pm10_recent_hours) >= 2 then
            sum(case when trailing_hours.pm10 is not null then power(weights.pm10_w, trailing_hours.lag_hours) * trailing_hours.pm10 end)
            / sum(case when trailing_hours.pm10 is not null then power(weights.pm10_w, trailing_hours.lag_hours) end)
        end as pm10_nowcast,
        -- O3 8h rolling mean ending with this hour, when at least 6 of the 8 hours are present.
        case when count(case when trailing_hours.lag_hours <= 7 then trailing_hours.o3 end) >= 6 then
            avg(case when trailing_hours.lag_hours <= 7 then trailing_hours.o3 end)
        end as o3_8h
    from trailing_hours
    inner join weights
        on weights.station_code = trailing_hours.station_code
        and weights.observed_at = trailing_hours.observed_at
    group by 1, 2
),

final as (
    select
        hourly.station_code,
        hourly.observed_at,
        {{ local_date('hourly.observed_at') }} as observed_date,
        last_reading.unit_code,
        last_reading.lon,
        last_reading.lat,
        hourly.pm25,
        hourly.pm10,
        hourly.o3,
        hourly.no2,
        hourly.so2,
        hourly.co,
        nowcast.pm25_nowcast,
        nowcast.pm10_nowcast,
        nowcast.o3_8h,
        hourly.temperature,
        hourly.relative_humidity,
        hourly.readings
    from hourly
    inner join last_reading
        on last_reading.station_code = hourly.station_code
        and last_reading.observed_at = hourly.observed_at
        and last_reading.rn = 1
    inner join nowcast
        on nowcast.station_code = hourly.station_code
        and nowcast.observed_at = hourly.observed_at
)

select * from final
