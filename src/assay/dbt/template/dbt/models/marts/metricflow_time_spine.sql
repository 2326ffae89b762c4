-- The day grain MetricFlow joins to (one row per day over the demo's years).
select cast(d as date) as date_day
from generate_series(date '2025-01-01', date '2027-12-31', interval 1 day) as t(d)
