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
m_revenue AS (
    SELECT u.unit_id, sum(e.amount) AS v
    FROM units AS u LEFT JOIN orders AS e
      ON e.user_id = u.unit_id AND e.created_at >= u.t0 AND e.created_at < u.t0 + INTERVAL 14 DAY AND status = 'completed'
    GROUP BY u.unit_id
),
m_revenue__pre AS (
    SELECT u.unit_id, sum(e.amount) AS v
    FROM units AS u LEFT JOIN orders AS e
      ON e.user_id = u.unit_id AND e.created_at >= u.t0 - INTERVAL 28 DAY AND e.created_at < u.t0 AND status = 'completed'
    GROUP BY u.unit_id
),
m_orders AS (
    SELECT u.unit_id, count(e.user_id) AS v
    FROM units AS u LEFT JOIN orders AS e
      ON e.user_id = u.unit_id AND e.created_at >= u.t0 AND e.created_at < u.t0 + INTERVAL 14 DAY AND status = 'completed'
    GROUP BY u.unit_id
),
m_orders__pre AS (
    SELECT u.unit_id, count(e.user_id) AS v
    FROM units AS u LEFT JOIN orders AS e
      ON e.user_id = u.unit_id AND e.created_at >= u.t0 - INTERVAL 28 DAY AND e.created_at < u.t0 AND status = 'completed'
    GROUP BY u.unit_id
),
m_conversion AS (
    SELECT u.unit_id, max(CASE WHEN e.user_id IS NOT NULL THEN 1 END) AS v
    FROM units AS u LEFT JOIN orders AS e
      ON e.user_id = u.unit_id AND e.created_at >= u.t0 AND e.created_at < u.t0 + INTERVAL 14 DAY AND status = 'completed'
    GROUP BY u.unit_id
),
m_conversion__pre AS (
    SELECT u.unit_id, max(CASE WHEN e.user_id IS NOT NULL THEN 1 END) AS v
    FROM units AS u LEFT JOIN orders AS e
      ON e.user_id = u.unit_id AND e.created_at >= u.t0 - INTERVAL 28 DAY AND e.created_at < u.t0 AND status = 'completed'
    GROUP BY u.unit_id
),
m_refund_amount AS (
    SELECT u.unit_id, sum(e.refund) AS v
    FROM units AS u LEFT JOIN orders AS e
      ON e.user_id = u.unit_id AND e.created_at >= u.t0 AND e.created_at < u.t0 + INTERVAL 14 DAY AND refund > 0
    GROUP BY u.unit_id
),
m_refund_amount__pre AS (
    SELECT u.unit_id, sum(e.refund) AS v
    FROM units AS u LEFT JOIN orders AS e
      ON e.user_id = u.unit_id AND e.created_at >= u.t0 - INTERVAL 28 DAY AND e.created_at < u.t0 AND refund > 0
    GROUP BY u.unit_id
),
m_revenue_capped AS (
    SELECT u.unit_id, sum(e.amount) AS v
    FROM units AS u LEFT JOIN orders AS e
      ON e.user_id = u.unit_id AND e.created_at >= u.t0 AND e.created_at < u.t0 + INTERVAL 14 DAY AND status = 'completed'
    GROUP BY u.unit_id
),
m_revenue_capped__pre AS (
    SELECT u.unit_id, sum(e.amount) AS v
    FROM units AS u LEFT JOIN orders AS e
      ON e.user_id = u.unit_id AND e.created_at >= u.t0 - INTERVAL 28 DAY AND e.created_at < u.t0 AND status = 'completed'
    GROUP BY u.unit_id
),
m_sessions AS (
    SELECT u.unit_id, count(e.user_id) AS v
    FROM units AS u LEFT JOIN sessions AS e
      ON e.user_id = u.unit_id AND e.started_at >= u.t0 AND e.started_at < u.t0 + INTERVAL 14 DAY
    GROUP BY u.unit_id
),
m_sessions__pre AS (
    SELECT u.unit_id, count(e.user_id) AS v
    FROM units AS u LEFT JOIN sessions AS e
      ON e.user_id = u.unit_id AND e.started_at >= u.t0 - INTERVAL 28 DAY AND e.started_at < u.t0
    GROUP BY u.unit_id
),
m_session_duration AS (
    SELECT u.unit_id, sum(e.duration) AS v
    FROM units AS u LEFT JOIN sessions AS e
      ON e.user_id = u.unit_id AND e.started_at >= u.t0 AND e.started_at < u.t0 + INTERVAL 14 DAY
    GROUP BY u.unit_id
),
m_session_duration__pre AS (
    SELECT u.unit_id, sum(e.duration) AS v
    FROM units AS u LEFT JOIN sessions AS e
      ON e.user_id = u.unit_id AND e.started_at >= u.t0 - INTERVAL 28 DAY AND e.started_at < u.t0
    GROUP BY u.unit_id
),
m_pages AS (
    SELECT u.unit_id, sum(e.pages) AS v
    FROM units AS u LEFT JOIN sessions AS e
      ON e.user_id = u.unit_id AND e.started_at >= u.t0 AND e.started_at < u.t0 + INTERVAL 14 DAY
    GROUP BY u.unit_id
),
m_pages__pre AS (
    SELECT u.unit_id, sum(e.pages) AS v
    FROM units AS u LEFT JOIN sessions AS e
      ON e.user_id = u.unit_id AND e.started_at >= u.t0 - INTERVAL 28 DAY AND e.started_at < u.t0
    GROUP BY u.unit_id
),
m_engaged AS (
    SELECT u.unit_id, max(CASE WHEN e.user_id IS NOT NULL THEN 1 END) AS v
    FROM units AS u LEFT JOIN sessions AS e
      ON e.user_id = u.unit_id AND e.started_at >= u.t0 AND e.started_at < u.t0 + INTERVAL 14 DAY AND pages >= 10
    GROUP BY u.unit_id
),
m_engaged__pre AS (
    SELECT u.unit_id, max(CASE WHEN e.user_id IS NOT NULL THEN 1 END) AS v
    FROM units AS u LEFT JOIN sessions AS e
      ON e.user_id = u.unit_id AND e.started_at >= u.t0 - INTERVAL 28 DAY AND e.started_at < u.t0 AND pages >= 10
    GROUP BY u.unit_id
),
unit_values AS (
    SELECT units.variant, coalesce(m_revenue.v, 0) AS revenue, coalesce(m_revenue__pre.v, 0) AS revenue__pre, coalesce(m_orders.v, 0) AS orders, coalesce(m_orders__pre.v, 0) AS orders__pre, coalesce(m_conversion.v, 0) AS conversion, coalesce(m_conversion__pre.v, 0) AS conversion__pre, coalesce(m_refund_amount.v, 0) AS refund_amount, coalesce(m_refund_amount__pre.v, 0) AS refund_amount__pre, least(coalesce(m_revenue_capped.v, 0), 1000) AS revenue_capped, least(coalesce(m_revenue_capped__pre.v, 0), 1000) AS revenue_capped__pre, coalesce(m_sessions.v, 0) AS sessions, coalesce(m_sessions__pre.v, 0) AS sessions__pre, coalesce(m_session_duration.v, 0) AS session_duration, coalesce(m_session_duration__pre.v, 0) AS session_duration__pre, coalesce(m_pages.v, 0) AS pages, coalesce(m_pages__pre.v, 0) AS pages__pre, coalesce(m_engaged.v, 0) AS engaged, coalesce(m_engaged__pre.v, 0) AS engaged__pre
    FROM units
    JOIN m_revenue USING (unit_id)
    JOIN m_revenue__pre USING (unit_id)
    JOIN m_orders USING (unit_id)
    JOIN m_orders__pre USING (unit_id)
    JOIN m_conversion USING (unit_id)
    JOIN m_conversion__pre USING (unit_id)
    JOIN m_refund_amount USING (unit_id)
    JOIN m_refund_amount__pre USING (unit_id)
    JOIN m_revenue_capped USING (unit_id)
    JOIN m_revenue_capped__pre USING (unit_id)
    JOIN m_sessions USING (unit_id)
    JOIN m_sessions__pre USING (unit_id)
    JOIN m_session_duration USING (unit_id)
    JOIN m_session_duration__pre USING (unit_id)
    JOIN m_pages USING (unit_id)
    JOIN m_pages__pre USING (unit_id)
    JOIN m_engaged USING (unit_id)
    JOIN m_engaged__pre USING (unit_id)
)
SELECT variant, count(*) AS n,
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
       sum(sessions) AS s__sessions,
       sum(sessions__pre) AS s__sessions__pre,
       sum(session_duration) AS s__session_duration,
       sum(session_duration__pre) AS s__session_duration__pre,
       sum(pages) AS s__pages,
       sum(pages__pre) AS s__pages__pre,
       sum(engaged) AS s__engaged,
       sum(engaged__pre) AS s__engaged__pre,
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
       sum(engaged * engaged__pre) AS ss__engaged__engaged__pre,
       sum(orders * revenue) AS ss__orders__revenue,
       sum(orders__pre * revenue) AS ss__orders__pre__revenue,
       sum(orders * revenue__pre) AS ss__orders__revenue__pre,
       sum(orders__pre * revenue__pre) AS ss__orders__pre__revenue__pre,
       any_value(d.units_multiple_variants) AS units_multiple_variants,
       any_value(d.repeat_exposures) AS repeat_exposures,
       any_value(d.exposures_outside_dates) AS exposures_outside_dates
FROM unit_values CROSS JOIN diagnostics AS d
GROUP BY variant
ORDER BY variant;
