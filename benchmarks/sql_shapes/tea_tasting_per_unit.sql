WITH "t8" AS (
  SELECT
    "t4"."unit_id",
    MIN("t4"."timestamp") AS "t0",
    MIN("t4"."variant") AS "variant",
    MAX("t4"."variant") AS "variant_max",
    COUNT(*) AS "n_rows"
  FROM (
    SELECT
      *
    FROM "exposures" AS "t1"
    WHERE
      "t1"."experiment_id" = 'bench'
      AND "t1"."timestamp" >= MAKE_TIMESTAMP(2026, 1, 5, 0, 0, 0.0)
      AND "t1"."timestamp" < MAKE_TIMESTAMP(2026, 1, 26, 0, 0, 0.0)
  ) AS "t4"
  GROUP BY
    1
)
SELECT
  "t24"."variant",
  COALESCE("t24"."revenue", 0) AS "revenue",
  COALESCE("t24"."revenue__pre", 0) AS "revenue__pre",
  COALESCE("t24"."orders", 0) AS "orders",
  COALESCE("t24"."orders__pre", 0) AS "orders__pre",
  COALESCE("t24"."conversion", 0) AS "conversion",
  COALESCE("t24"."conversion__pre", 0) AS "conversion__pre",
  COALESCE("t24"."refund_amount", 0) AS "refund_amount",
  COALESCE("t24"."refund_amount__pre", 0) AS "refund_amount__pre",
  LEAST(COALESCE("t24"."revenue_capped", 0), 1000) AS "revenue_capped",
  LEAST(COALESCE("t24"."revenue_capped__pre", 0), 1000) AS "revenue_capped__pre",
  COALESCE("t24"."sessions", 0) AS "sessions",
  COALESCE("t24"."sessions__pre", 0) AS "sessions__pre",
  COALESCE("t24"."session_duration", 0) AS "session_duration",
  COALESCE("t24"."session_duration__pre", 0) AS "session_duration__pre",
  COALESCE("t24"."pages", 0) AS "pages",
  COALESCE("t24"."pages__pre", 0) AS "pages__pre",
  COALESCE("t24"."engaged", 0) AS "engaged",
  COALESCE("t24"."engaged__pre", 0) AS "engaged__pre"
FROM (
  SELECT
    "t23".*
    EXCLUDE ("unit_id_e")
  FROM (
    SELECT
      "t22"."unit_id",
      "t22"."variant",
      "t22"."t0",
      "t22"."revenue",
      "t22"."revenue__pre",
      "t22"."orders",
      "t22"."orders__pre",
      "t22"."conversion",
      "t22"."conversion__pre",
      "t22"."refund_amount",
      "t22"."refund_amount__pre",
      "t22"."revenue_capped",
      "t22"."revenue_capped__pre",
      "t18"."unit_id_e",
      "t18"."sessions",
      "t18"."sessions__pre",
      "t18"."session_duration",
      "t18"."session_duration__pre",
      "t18"."pages",
      "t18"."pages__pre",
      "t18"."engaged",
      "t18"."engaged__pre"
    FROM (
      SELECT
        "t20".*
        EXCLUDE ("unit_id_e")
      FROM (
        SELECT
          "t12"."unit_id",
          "t12"."variant",
          "t12"."t0",
          "t19"."unit_id_e",
          "t19"."revenue",
          "t19"."revenue__pre",
          "t19"."orders",
          "t19"."orders__pre",
          "t19"."conversion",
          "t19"."conversion__pre",
          "t19"."refund_amount",
          "t19"."refund_amount__pre",
          "t19"."revenue_capped",
          "t19"."revenue_capped__pre"
        FROM (
          SELECT
            "t9"."unit_id",
            "t9"."variant",
            "t9"."t0"
          FROM "t8" AS "t9"
          WHERE
            "t9"."variant" = "t9"."variant_max"
        ) AS "t12"
        LEFT OUTER JOIN (
          SELECT
            "t15"."user_id" AS "unit_id_e",
            SUM("t15"."amount") FILTER(WHERE
              (
                "t15"."created_at" >= "t15"."t0"
              ) AND (
                "t15"."status" = 'completed'
              )) AS "revenue",
            SUM("t15"."amount") FILTER(WHERE
              (
                "t15"."created_at" < "t15"."t0"
              ) AND (
                "t15"."status" = 'completed'
              )) AS "revenue__pre",
            COUNT(*) FILTER(WHERE
              (
                "t15"."created_at" >= "t15"."t0"
              ) AND (
                "t15"."status" = 'completed'
              )) AS "orders",
            COUNT(*) FILTER(WHERE
              (
                "t15"."created_at" < "t15"."t0"
              ) AND (
                "t15"."status" = 'completed'
              )) AS "orders__pre",
            CAST(COUNT(*) FILTER(WHERE
              (
                "t15"."created_at" >= "t15"."t0"
              ) AND (
                "t15"."status" = 'completed'
              )) > 0 AS BIGINT) AS "conversion",
            CAST(COUNT(*) FILTER(WHERE
              (
                "t15"."created_at" < "t15"."t0"
              ) AND (
                "t15"."status" = 'completed'
              )) > 0 AS BIGINT) AS "conversion__pre",
            SUM("t15"."refund") FILTER(WHERE
              (
                "t15"."created_at" >= "t15"."t0"
              ) AND (
                "t15"."refund" > 0
              )) AS "refund_amount",
            SUM("t15"."refund") FILTER(WHERE
              (
                "t15"."created_at" < "t15"."t0"
              ) AND (
                "t15"."refund" > 0
              )) AS "refund_amount__pre",
            SUM("t15"."amount") FILTER(WHERE
              (
                "t15"."created_at" >= "t15"."t0"
              ) AND (
                "t15"."status" = 'completed'
              )) AS "revenue_capped",
            SUM("t15"."amount") FILTER(WHERE
              (
                "t15"."created_at" < "t15"."t0"
              ) AND (
                "t15"."status" = 'completed'
              )) AS "revenue_capped__pre"
          FROM (
            SELECT
              "t7"."user_id",
              "t7"."created_at",
              "t7"."amount",
              "t7"."refund",
              "t7"."status",
              "t13"."unit_id_u",
              "t13"."t0"
            FROM (
              SELECT
                *
              FROM "orders" AS "t2"
              WHERE
                "t2"."created_at" >= MAKE_TIMESTAMP(2025, 12, 8, 0, 0, 0.0)
                AND "t2"."created_at" < MAKE_TIMESTAMP(2026, 2, 9, 0, 0, 0.0)
            ) AS "t7"
            INNER JOIN (
              SELECT
                "t9"."unit_id" AS "unit_id_u",
                "t9"."t0"
              FROM "t8" AS "t9"
              WHERE
                "t9"."variant" = "t9"."variant_max"
            ) AS "t13"
              ON "t7"."user_id" = "t13"."unit_id_u"
              AND "t7"."created_at" >= (
                "t13"."t0" - INTERVAL '28' DAY
              )
              AND "t7"."created_at" < (
                "t13"."t0" + INTERVAL '14' DAY
              )
          ) AS "t15"
          GROUP BY
            1
        ) AS "t19"
          ON "t12"."unit_id" = "t19"."unit_id_e"
      ) AS "t20"
    ) AS "t22"
    LEFT OUTER JOIN (
      SELECT
        "t14"."user_id" AS "unit_id_e",
        COUNT(*) FILTER(WHERE
          "t14"."started_at" >= "t14"."t0") AS "sessions",
        COUNT(*) FILTER(WHERE
          "t14"."started_at" < "t14"."t0") AS "sessions__pre",
        SUM("t14"."duration") FILTER(WHERE
          "t14"."started_at" >= "t14"."t0") AS "session_duration",
        SUM("t14"."duration") FILTER(WHERE
          "t14"."started_at" < "t14"."t0") AS "session_duration__pre",
        SUM("t14"."pages") FILTER(WHERE
          "t14"."started_at" >= "t14"."t0") AS "pages",
        SUM("t14"."pages") FILTER(WHERE
          "t14"."started_at" < "t14"."t0") AS "pages__pre",
        CAST(COUNT(*) FILTER(WHERE
          (
            "t14"."started_at" >= "t14"."t0"
          ) AND (
            "t14"."pages" >= 10
          )) > 0 AS BIGINT) AS "engaged",
        CAST(COUNT(*) FILTER(WHERE
          (
            "t14"."started_at" < "t14"."t0"
          ) AND (
            "t14"."pages" >= 10
          )) > 0 AS BIGINT) AS "engaged__pre"
      FROM (
        SELECT
          "t6"."user_id",
          "t6"."started_at",
          "t6"."duration",
          "t6"."pages",
          "t13"."unit_id_u",
          "t13"."t0"
        FROM (
          SELECT
            *
          FROM "sessions" AS "t0"
          WHERE
            "t0"."started_at" >= MAKE_TIMESTAMP(2025, 12, 8, 0, 0, 0.0)
            AND "t0"."started_at" < MAKE_TIMESTAMP(2026, 2, 9, 0, 0, 0.0)
        ) AS "t6"
        INNER JOIN (
          SELECT
            "t9"."unit_id" AS "unit_id_u",
            "t9"."t0"
          FROM "t8" AS "t9"
          WHERE
            "t9"."variant" = "t9"."variant_max"
        ) AS "t13"
          ON "t6"."user_id" = "t13"."unit_id_u"
          AND "t6"."started_at" >= (
            "t13"."t0" - INTERVAL '28' DAY
          )
          AND "t6"."started_at" < (
            "t13"."t0" + INTERVAL '14' DAY
          )
      ) AS "t14"
      GROUP BY
        1
    ) AS "t18"
      ON "t22"."unit_id" = "t18"."unit_id_e"
  ) AS "t23"
) AS "t24"
