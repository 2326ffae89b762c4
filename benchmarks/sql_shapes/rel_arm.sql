-- rel.sql with the arm (TINYINT from the spec's variants) carried in the join payload and used as a
-- second GROUP BY key, so the per-unit rows need no join back to units. Derived from rel.sql by hand.
WITH exposed AS (
    SELECT unit_id, min("timestamp") AS t0, min(variant) AS variant,
           max(variant) AS variant_max, count(*) AS n_rows
    FROM exposures
    WHERE experiment_id = 'bench' AND "timestamp" >= TIMESTAMP '2026-01-05 00:00:00' AND "timestamp" < TIMESTAMP '2026-01-26 00:00:00'
    GROUP BY unit_id
),
units AS (
    SELECT unit_id, variant, t0
    FROM exposed WHERE variant = variant_max
),
diagnostics AS (
    SELECT count(*) FILTER (WHERE variant <> variant_max) AS units_multiple_variants,
           coalesce(sum(n_rows - 1), 0) AS repeat_exposures,
           (SELECT count(*) FROM exposures
            WHERE experiment_id = 'bench' AND NOT ("timestamp" >= TIMESTAMP '2026-01-05 00:00:00' AND "timestamp" < TIMESTAMP '2026-01-26 00:00:00')
           ) AS exposures_outside_dates
    FROM exposed
),
unit_t0 AS (
    SELECT unit_id, epoch_us(t0) AS t0_us,
           CASE variant WHEN 'control' THEN 0 WHEN 'treatment' THEN 1 END::TINYINT AS arm
    FROM units
),
events_orders AS (
    SELECT e.user_id AS unit_id, u.arm, epoch_us(e.created_at) - u.t0_us AS rel,
           e.amount, e.refund, e.status
    FROM orders AS e JOIN unit_t0 AS u ON e.user_id = u.unit_id
        WHERE e.created_at >= TIMESTAMP '2025-12-08 00:00:00' AND e.created_at < TIMESTAMP '2026-02-09 00:00:00'
),
unit_orders AS (
    SELECT unit_id, arm,
           sum(amount) FILTER (WHERE rel >= 0 AND rel < 1209600000000 AND status = 'completed') AS revenue,
           sum(amount) FILTER (WHERE rel >= -2419200000000 AND rel < 0 AND status = 'completed') AS revenue__pre,
           count(*) FILTER (WHERE rel >= 0 AND rel < 1209600000000 AND status = 'completed') AS orders,
           count(*) FILTER (WHERE rel >= -2419200000000 AND rel < 0 AND status = 'completed') AS orders__pre,
           (count(*) FILTER (WHERE rel >= 0 AND rel < 1209600000000 AND status = 'completed') > 0)::INTEGER AS conversion,
           (count(*) FILTER (WHERE rel >= -2419200000000 AND rel < 0 AND status = 'completed') > 0)::INTEGER AS conversion__pre,
           sum(refund) FILTER (WHERE rel >= 0 AND rel < 1209600000000 AND refund > 0) AS refund_amount,
           sum(refund) FILTER (WHERE rel >= -2419200000000 AND rel < 0 AND refund > 0) AS refund_amount__pre,
           sum(amount) FILTER (WHERE rel >= 0 AND rel < 1209600000000 AND status = 'completed') AS revenue_capped,
           sum(amount) FILTER (WHERE rel >= -2419200000000 AND rel < 0 AND status = 'completed') AS revenue_capped__pre
    FROM events_orders
    GROUP BY unit_id, arm
),
stats_orders AS (
    SELECT variant,
           sum(revenue) AS s__revenue,
           sum(revenue__pre) AS s__revenue__pre,
           sum(orders) AS s__orders,
           sum(orders__pre) AS s__orders__pre,
           sum(conversion) AS s__conversion,
           sum(conversion__pre) AS s__conversion__pre,
           sum(refund_amount) AS s__refund_amount,
           sum(refund_amount__pre) AS s__refund_amount__pre,
           sum(revenue_capped) AS s__revenue_capped,
           sum(revenue_capped__pre) AS s__revenue_capped__pre,
           sum(revenue * revenue) AS ss__revenue__revenue,
           sum(revenue__pre * revenue__pre) AS ss__revenue__pre__revenue__pre,
           sum(revenue * revenue__pre) AS ss__revenue__revenue__pre,
           sum(orders * orders) AS ss__orders__orders,
           sum(orders__pre * orders__pre) AS ss__orders__pre__orders__pre,
           sum(orders * orders__pre) AS ss__orders__orders__pre,
           sum(conversion * conversion) AS ss__conversion__conversion,
           sum(conversion__pre * conversion__pre) AS ss__conversion__pre__conversion__pre,
           sum(conversion * conversion__pre) AS ss__conversion__conversion__pre,
           sum(refund_amount * refund_amount) AS ss__refund_amount__refund_amount,
           sum(refund_amount__pre * refund_amount__pre) AS ss__refund_amount__pre__refund_amount__pre,
           sum(refund_amount * refund_amount__pre) AS ss__refund_amount__refund_amount__pre,
           sum(revenue_capped * revenue_capped) AS ss__revenue_capped__revenue_capped,
           sum(revenue_capped__pre * revenue_capped__pre) AS ss__revenue_capped__pre__revenue_capped__pre,
           sum(revenue_capped * revenue_capped__pre) AS ss__revenue_capped__revenue_capped__pre,
           sum(orders * revenue) AS ss__orders__revenue,
           sum(orders__pre * revenue) AS ss__orders__pre__revenue,
           sum(orders * revenue__pre) AS ss__orders__revenue__pre,
           sum(orders__pre * revenue__pre) AS ss__orders__pre__revenue__pre
    FROM (SELECT units.variant, coalesce(revenue, 0) AS revenue, coalesce(revenue__pre, 0) AS revenue__pre, coalesce(orders, 0) AS orders, coalesce(orders__pre, 0) AS orders__pre, coalesce(conversion, 0) AS conversion, coalesce(conversion__pre, 0) AS conversion__pre, coalesce(refund_amount, 0) AS refund_amount, coalesce(refund_amount__pre, 0) AS refund_amount__pre, least(coalesce(revenue_capped, 0), 1000) AS revenue_capped, least(coalesce(revenue_capped__pre, 0), 1000) AS revenue_capped__pre
          FROM unit_orders JOIN (SELECT 0 AS arm, 'control' AS variant UNION ALL SELECT 1, 'treatment') AS units USING (arm))
    GROUP BY variant
),
events_sessions AS (
    SELECT e.user_id AS unit_id, u.arm, epoch_us(e.started_at) - u.t0_us AS rel,
           e.duration, e.pages
    FROM sessions AS e JOIN unit_t0 AS u ON e.user_id = u.unit_id
        WHERE e.started_at >= TIMESTAMP '2025-12-08 00:00:00' AND e.started_at < TIMESTAMP '2026-02-09 00:00:00'
),
unit_sessions AS (
    SELECT unit_id, arm,
           count(*) FILTER (WHERE rel >= 0 AND rel < 1209600000000) AS sessions,
           count(*) FILTER (WHERE rel >= -2419200000000 AND rel < 0) AS sessions__pre,
           sum(duration) FILTER (WHERE rel >= 0 AND rel < 1209600000000) AS session_duration,
           sum(duration) FILTER (WHERE rel >= -2419200000000 AND rel < 0) AS session_duration__pre,
           sum(pages) FILTER (WHERE rel >= 0 AND rel < 1209600000000) AS pages,
           sum(pages) FILTER (WHERE rel >= -2419200000000 AND rel < 0) AS pages__pre,
           (count(*) FILTER (WHERE rel >= 0 AND rel < 1209600000000 AND pages >= 10) > 0)::INTEGER AS engaged,
           (count(*) FILTER (WHERE rel >= -2419200000000 AND rel < 0 AND pages >= 10) > 0)::INTEGER AS engaged__pre
    FROM events_sessions
    GROUP BY unit_id, arm
),
stats_sessions AS (
    SELECT variant,
           sum(sessions) AS s__sessions,
           sum(sessions__pre) AS s__sessions__pre,
           sum(session_duration) AS s__session_duration,
           sum(session_duration__pre) AS s__session_duration__pre,
           sum(pages) AS s__pages,
           sum(pages__pre) AS s__pages__pre,
           sum(engaged) AS s__engaged,
           sum(engaged__pre) AS s__engaged__pre,
           sum(sessions * sessions) AS ss__sessions__sessions,
           sum(sessions__pre * sessions__pre) AS ss__sessions__pre__sessions__pre,
           sum(sessions * sessions__pre) AS ss__sessions__sessions__pre,
           sum(session_duration * session_duration) AS ss__session_duration__session_duration,
           sum(session_duration__pre * session_duration__pre) AS ss__session_duration__pre__session_duration__pre,
           sum(session_duration * session_duration__pre) AS ss__session_duration__session_duration__pre,
           sum(pages * pages) AS ss__pages__pages,
           sum(pages__pre * pages__pre) AS ss__pages__pre__pages__pre,
           sum(pages * pages__pre) AS ss__pages__pages__pre,
           sum(engaged * engaged) AS ss__engaged__engaged,
           sum(engaged__pre * engaged__pre) AS ss__engaged__pre__engaged__pre,
           sum(engaged * engaged__pre) AS ss__engaged__engaged__pre
    FROM (SELECT units.variant, coalesce(sessions, 0) AS sessions, coalesce(sessions__pre, 0) AS sessions__pre, coalesce(session_duration, 0) AS session_duration, coalesce(session_duration__pre, 0) AS session_duration__pre, coalesce(pages, 0) AS pages, coalesce(pages__pre, 0) AS pages__pre, coalesce(engaged, 0) AS engaged, coalesce(engaged__pre, 0) AS engaged__pre
          FROM unit_sessions JOIN (SELECT 0 AS arm, 'control' AS variant UNION ALL SELECT 1, 'treatment') AS units USING (arm))
    GROUP BY variant
),
arms AS (
    SELECT variant, count(*) AS n FROM units GROUP BY variant
)
SELECT arms.variant,
           arms.n,
           coalesce(s__revenue, 0) AS s__revenue,
           coalesce(s__revenue__pre, 0) AS s__revenue__pre,
           coalesce(s__orders, 0) AS s__orders,
           coalesce(s__orders__pre, 0) AS s__orders__pre,
           coalesce(s__conversion, 0) AS s__conversion,
           coalesce(s__conversion__pre, 0) AS s__conversion__pre,
           coalesce(s__refund_amount, 0) AS s__refund_amount,
           coalesce(s__refund_amount__pre, 0) AS s__refund_amount__pre,
           coalesce(s__revenue_capped, 0) AS s__revenue_capped,
           coalesce(s__revenue_capped__pre, 0) AS s__revenue_capped__pre,
           coalesce(s__sessions, 0) AS s__sessions,
           coalesce(s__sessions__pre, 0) AS s__sessions__pre,
           coalesce(s__session_duration, 0) AS s__session_duration,
           coalesce(s__session_duration__pre, 0) AS s__session_duration__pre,
           coalesce(s__pages, 0) AS s__pages,
           coalesce(s__pages__pre, 0) AS s__pages__pre,
           coalesce(s__engaged, 0) AS s__engaged,
           coalesce(s__engaged__pre, 0) AS s__engaged__pre,
           coalesce(ss__revenue__revenue, 0) AS ss__revenue__revenue,
           coalesce(ss__revenue__pre__revenue__pre, 0) AS ss__revenue__pre__revenue__pre,
           coalesce(ss__revenue__revenue__pre, 0) AS ss__revenue__revenue__pre,
           coalesce(ss__orders__orders, 0) AS ss__orders__orders,
           coalesce(ss__orders__pre__orders__pre, 0) AS ss__orders__pre__orders__pre,
           coalesce(ss__orders__orders__pre, 0) AS ss__orders__orders__pre,
           coalesce(ss__conversion__conversion, 0) AS ss__conversion__conversion,
           coalesce(ss__conversion__pre__conversion__pre, 0) AS ss__conversion__pre__conversion__pre,
           coalesce(ss__conversion__conversion__pre, 0) AS ss__conversion__conversion__pre,
           coalesce(ss__refund_amount__refund_amount, 0) AS ss__refund_amount__refund_amount,
           coalesce(ss__refund_amount__pre__refund_amount__pre, 0) AS ss__refund_amount__pre__refund_amount__pre,
           coalesce(ss__refund_amount__refund_amount__pre, 0) AS ss__refund_amount__refund_amount__pre,
           coalesce(ss__revenue_capped__revenue_capped, 0) AS ss__revenue_capped__revenue_capped,
           coalesce(ss__revenue_capped__pre__revenue_capped__pre, 0) AS ss__revenue_capped__pre__revenue_capped__pre,
           coalesce(ss__revenue_capped__revenue_capped__pre, 0) AS ss__revenue_capped__revenue_capped__pre,
           coalesce(ss__sessions__sessions, 0) AS ss__sessions__sessions,
           coalesce(ss__sessions__pre__sessions__pre, 0) AS ss__sessions__pre__sessions__pre,
           coalesce(ss__sessions__sessions__pre, 0) AS ss__sessions__sessions__pre,
           coalesce(ss__session_duration__session_duration, 0) AS ss__session_duration__session_duration,
           coalesce(ss__session_duration__pre__session_duration__pre, 0) AS ss__session_duration__pre__session_duration__pre,
           coalesce(ss__session_duration__session_duration__pre, 0) AS ss__session_duration__session_duration__pre,
           coalesce(ss__pages__pages, 0) AS ss__pages__pages,
           coalesce(ss__pages__pre__pages__pre, 0) AS ss__pages__pre__pages__pre,
           coalesce(ss__pages__pages__pre, 0) AS ss__pages__pages__pre,
           coalesce(ss__engaged__engaged, 0) AS ss__engaged__engaged,
           coalesce(ss__engaged__pre__engaged__pre, 0) AS ss__engaged__pre__engaged__pre,
           coalesce(ss__engaged__engaged__pre, 0) AS ss__engaged__engaged__pre,
           coalesce(ss__orders__revenue, 0) AS ss__orders__revenue,
           coalesce(ss__orders__pre__revenue, 0) AS ss__orders__pre__revenue,
           coalesce(ss__orders__revenue__pre, 0) AS ss__orders__revenue__pre,
           coalesce(ss__orders__pre__revenue__pre, 0) AS ss__orders__pre__revenue__pre,
           d.*
FROM arms LEFT JOIN stats_orders USING (variant) LEFT JOIN stats_sessions USING (variant) CROSS JOIN diagnostics AS d
ORDER BY arms.variant;
