-- exposures
WITH e AS (
  SELECT
    "x"."user_id" AS "unit_id",
    "x"."variant" AS "variant",
    "x"."exposed_at" AS "ts"
  FROM "exposures" AS "x"
  WHERE
    "x"."experiment_id" = 'plain'
), u AS (
  SELECT
    "unit_id",
    MIN("variant") FILTER(WHERE
      "ts" >= CAST('2026-01-05 00:00:00' AS TIMESTAMP)
      AND "ts" < CAST('2026-01-20 00:00:00' AS TIMESTAMP)) AS "variant",
    MAX("variant") FILTER(WHERE
      "ts" >= CAST('2026-01-05 00:00:00' AS TIMESTAMP)
      AND "ts" < CAST('2026-01-20 00:00:00' AS TIMESTAMP)) AS "variant_max",
    COUNT(*) FILTER(WHERE
      "ts" >= CAST('2026-01-05 00:00:00' AS TIMESTAMP)
      AND "ts" < CAST('2026-01-20 00:00:00' AS TIMESTAMP)) AS "rows",
    COUNT(*) AS "all_rows"
  FROM e
  GROUP BY
    "unit_id"
)
SELECT
  CASE
    WHEN "unit_id" IS NULL
    THEN 'missing'
    WHEN "rows" = 0
    THEN 'outside'
    WHEN "variant" IS NULL
    THEN 'no_variant'
    WHEN "variant" = "variant_max"
    THEN 'arm'
    ELSE 'multi'
  END AS "kind",
  CASE WHEN NOT "unit_id" IS NULL AND "variant" = "variant_max" THEN "variant" END AS "variant",
  COUNT(*) AS "units",
  SUM("rows") AS "exposure_rows",
  SUM("all_rows" - "rows") AS "outside_rows",
  SUM("all_rows") AS "all_rows"
FROM u
GROUP BY
  1,
  2
ORDER BY
  1,
  2;

-- metrics
WITH e AS (
  SELECT
    "x"."user_id" AS "unit_id",
    "x"."variant" AS "variant",
    "x"."exposed_at" AS "ts"
  FROM "exposures" AS "x"
  WHERE
    "x"."experiment_id" = 'plain'
), units AS (
  SELECT
    "unit_id",
    "t0",
    EPOCH_US("t0") AS "t0_us",
    CASE WHEN "arm" = 0 THEN 'control' WHEN "arm" = 1 THEN 'treatment' END AS "variant",
    "arm"
  FROM (
    SELECT
      "unit_id",
      MIN("ts") AS "t0",
      MIN("arm") AS "arm",
      MAX("arm") AS "arm_max"
    FROM (
      SELECT
        "unit_id",
        "ts",
        CAST(CASE
          WHEN "variant" IS NULL
          THEN NULL
          WHEN "variant" = 'control'
          THEN 0
          WHEN "variant" = 'treatment'
          THEN 1
          ELSE -1
        END AS TINYINT) AS "arm"
      FROM e
    ) AS c
    WHERE
      NOT "unit_id" IS NULL
      AND (
        "ts" >= CAST('2026-01-05 00:00:00' AS TIMESTAMP)
        AND "ts" < CAST('2026-01-20 00:00:00' AS TIMESTAMP)
      )
    GROUP BY
      "unit_id"
  ) AS f
  WHERE
    "arm" = "arm_max" AND "arm" >= 0
), src0 AS (
  SELECT
    "unit_id",
    "arm",
    SUM("v0") FILTER(WHERE
      "f0" AND "__rel" >= 0 AND "__rel" < 1209600000000) AS "a0",
    COUNT(*) FILTER(WHERE
      (
        "f0" AND "__rel" >= 0 AND "__rel" < 1209600000000
      ) AND "v0" IS NULL) AS "a0__nulls",
    SUM("v0") FILTER(WHERE
      "f0" AND "__rel" >= -1209600000000 AND "__rel" < 0) AS "a1",
    COUNT(*) FILTER(WHERE
      "f0" AND "__rel" >= 0 AND "__rel" < 1209600000000) AS "a2",
    COUNT(*) FILTER(WHERE
      "f0" AND "__rel" >= -1209600000000 AND "__rel" < 0) AS "a3",
    CAST(COUNT(*) FILTER(WHERE
      "f0" AND "__rel" >= 0 AND "__rel" < 1209600000000) > 0 AS INT) AS "a4",
    SUM("v0") FILTER(WHERE
      "__rel" >= 0 AND "__rel" < 1209600000000) AS "a5",
    COUNT(*) FILTER(WHERE
      (
        "__rel" >= 0 AND "__rel" < 1209600000000
      ) AND "v0" IS NULL) AS "a5__nulls"
  FROM (
    SELECT
      "u"."unit_id",
      "u"."arm",
      "u"."t0_us",
      EPOCH_US("ev"."__ts") - "u"."t0_us" AS "__rel",
      "ev"."__ts",
      "ev"."v0",
      "ev"."f0"
    FROM (
      SELECT
        *
      FROM (
        SELECT
          "s"."user_id" AS "__unit",
          "s"."created_at" AS "__ts",
          amount AS "v0",
          status <> 'cancelled' AS "f0"
        FROM "orders" AS "s"
      ) AS r
      WHERE
        "__ts" >= CAST('2025-12-22 00:00:00' AS TIMESTAMP)
        AND "__ts" < CAST('2026-02-03 00:00:00' AS TIMESTAMP)
    ) AS ev
    INNER JOIN (
      SELECT
        "unit_id",
        "t0_us",
        "arm"
      FROM units
    ) AS u
      ON "ev"."__unit" = "u"."unit_id"
  ) AS j
  GROUP BY
    "unit_id",
    "arm"
), src1 AS (
  SELECT
    "unit_id",
    "arm",
    AVG("v0") FILTER(WHERE
      "__rel" >= 0 AND "__rel" < 604800000000) AS "a6",
    COUNT(*) FILTER(WHERE
      (
        "__rel" >= 0 AND "__rel" < 604800000000
      ) AND "v0" IS NULL) AS "a6__nulls"
  FROM (
    SELECT
      "u"."unit_id",
      "u"."arm",
      "u"."t0_us",
      EPOCH_US("ev"."__ts") - "u"."t0_us" AS "__rel",
      "ev"."__ts",
      "ev"."v0"
    FROM (
      SELECT
        *
      FROM (
        SELECT
          "s"."user_id" AS "__unit",
          "s"."started_at" AS "__ts",
          duration_s AS "v0"
        FROM "sessions" AS "s"
      ) AS r
      WHERE
        "__ts" >= CAST('2026-01-05 00:00:00' AS TIMESTAMP)
        AND "__ts" < CAST('2026-01-27 00:00:00' AS TIMESTAMP)
    ) AS ev
    INNER JOIN (
      SELECT
        "unit_id",
        "t0_us",
        "arm"
      FROM units
    ) AS u
      ON "ev"."__unit" = "u"."unit_id"
  ) AS j
  GROUP BY
    "unit_id",
    "arm"
), stats_src0 AS (
  SELECT
    "arm",
    COUNT(*) AS "m0__n",
    SUM("a0") AS "m0__s__y",
    SUM("a1") AS "m0__s__x",
    SUM("a1" * "a1") AS "m0__ss__x__x",
    SUM("a1" * "a0") AS "m0__ss__x__y",
    SUM("a0" * "a0") AS "m0__ss__y__y",
    COUNT(*) AS "m1__n",
    SUM("a2") AS "m1__s__y",
    SUM("a3") AS "m1__s__x",
    SUM("a3" * "a3") AS "m1__ss__x__x",
    SUM("a3" * "a2") AS "m1__ss__x__y",
    SUM("a2" * "a2") AS "m1__ss__y__y",
    COUNT(*) AS "m2__n",
    SUM("a4") AS "m2__s__y",
    SUM("a4" * "a4") AS "m2__ss__y__y",
    COUNT(*) AS "m3__n",
    SUM("a0") AS "m3__s__num",
    SUM("a2") AS "m3__s__den",
    SUM("a1") AS "m3__s__num_pre",
    SUM("a3") AS "m3__s__den_pre",
    SUM("a2" * "a2") AS "m3__ss__den__den",
    SUM("a2" * "a3") AS "m3__ss__den__den_pre",
    SUM("a2" * "a0") AS "m3__ss__den__num",
    SUM("a2" * "a1") AS "m3__ss__den__num_pre",
    SUM("a3" * "a3") AS "m3__ss__den_pre__den_pre",
    SUM("a3" * "a0") AS "m3__ss__den_pre__num",
    SUM("a3" * "a1") AS "m3__ss__den_pre__num_pre",
    SUM("a0" * "a0") AS "m3__ss__num__num",
    SUM("a0" * "a1") AS "m3__ss__num__num_pre",
    SUM("a1" * "a1") AS "m3__ss__num_pre__num_pre",
    SUM("a0__nulls") AS "a0__nulls"
  FROM (
    SELECT
      "arm",
      CAST(COALESCE("a0", 0) AS DOUBLE) AS "a0",
      CAST(COALESCE("a1", 0) AS DOUBLE) AS "a1",
      CAST(COALESCE("a2", 0) AS DOUBLE) AS "a2",
      CAST(COALESCE("a3", 0) AS DOUBLE) AS "a3",
      CAST(COALESCE("a4", 0) AS DOUBLE) AS "a4",
      "a0__nulls"
    FROM src0
  ) AS v
  GROUP BY
    "arm"
), stats_src1 AS (
  SELECT
    "arm",
    COUNT("a6") AS "m5__n",
    SUM("a6") AS "m5__s__y",
    SUM("a6" * "a6") AS "m5__ss__y__y",
    SUM("a6__nulls") AS "a6__nulls"
  FROM (
    SELECT
      "arm",
      CAST("a6" AS DOUBLE) AS "a6",
      "a6__nulls"
    FROM src1
  ) AS v
  GROUP BY
    "arm"
), per_unit_raw AS (
  SELECT
    "u"."unit_id",
    "u"."variant",
    CAST(COALESCE("src0"."a5", 0) AS DOUBLE) AS "a5",
    COALESCE("src0"."a5__nulls", 0) AS "a5__nulls"
  FROM units AS "u"
  LEFT JOIN src0 AS "src0"
    ON "src0"."unit_id" = "u"."unit_id"
), per_unit AS (
  SELECT
    "unit_id",
    "variant",
    CASE WHEN "a5" > "q"."a5__cap" THEN "q"."a5__cap" ELSE "a5" END AS "a5",
    "a5__nulls"
  FROM per_unit_raw
  CROSS JOIN (
    SELECT
      QUANTILE_CONT("a5", 0.95) AS "a5__cap"
    FROM per_unit_raw
  ) AS q
), stats_pooled AS (
  SELECT
    "variant",
    COUNT(*) AS "m4__n",
    SUM("a5") AS "m4__s__y",
    SUM("a5" * "a5") AS "m4__ss__y__y",
    SUM("a5__nulls") AS "a5__nulls"
  FROM per_unit
  GROUP BY
    "variant"
  ORDER BY
    "variant"
), arms AS (
  SELECT
    "variant",
    "arm",
    COUNT(*) AS "n"
  FROM units
  GROUP BY
    "variant",
    "arm"
)
SELECT
  "arms"."variant",
  "arms"."n" AS "m0__n",
  COALESCE("stats_src0"."m0__s__y", 0) AS "m0__s__y",
  COALESCE("stats_src0"."m0__s__x", 0) AS "m0__s__x",
  COALESCE("stats_src0"."m0__ss__x__x", 0) AS "m0__ss__x__x",
  COALESCE("stats_src0"."m0__ss__x__y", 0) AS "m0__ss__x__y",
  COALESCE("stats_src0"."m0__ss__y__y", 0) AS "m0__ss__y__y",
  "arms"."n" AS "m1__n",
  COALESCE("stats_src0"."m1__s__y", 0) AS "m1__s__y",
  COALESCE("stats_src0"."m1__s__x", 0) AS "m1__s__x",
  COALESCE("stats_src0"."m1__ss__x__x", 0) AS "m1__ss__x__x",
  COALESCE("stats_src0"."m1__ss__x__y", 0) AS "m1__ss__x__y",
  COALESCE("stats_src0"."m1__ss__y__y", 0) AS "m1__ss__y__y",
  "arms"."n" AS "m2__n",
  COALESCE("stats_src0"."m2__s__y", 0) AS "m2__s__y",
  COALESCE("stats_src0"."m2__ss__y__y", 0) AS "m2__ss__y__y",
  "arms"."n" AS "m3__n",
  COALESCE("stats_src0"."m3__s__num", 0) AS "m3__s__num",
  COALESCE("stats_src0"."m3__s__den", 0) AS "m3__s__den",
  COALESCE("stats_src0"."m3__s__num_pre", 0) AS "m3__s__num_pre",
  COALESCE("stats_src0"."m3__s__den_pre", 0) AS "m3__s__den_pre",
  COALESCE("stats_src0"."m3__ss__den__den", 0) AS "m3__ss__den__den",
  COALESCE("stats_src0"."m3__ss__den__den_pre", 0) AS "m3__ss__den__den_pre",
  COALESCE("stats_src0"."m3__ss__den__num", 0) AS "m3__ss__den__num",
  COALESCE("stats_src0"."m3__ss__den__num_pre", 0) AS "m3__ss__den__num_pre",
  COALESCE("stats_src0"."m3__ss__den_pre__den_pre", 0) AS "m3__ss__den_pre__den_pre",
  COALESCE("stats_src0"."m3__ss__den_pre__num", 0) AS "m3__ss__den_pre__num",
  COALESCE("stats_src0"."m3__ss__den_pre__num_pre", 0) AS "m3__ss__den_pre__num_pre",
  COALESCE("stats_src0"."m3__ss__num__num", 0) AS "m3__ss__num__num",
  COALESCE("stats_src0"."m3__ss__num__num_pre", 0) AS "m3__ss__num__num_pre",
  COALESCE("stats_src0"."m3__ss__num_pre__num_pre", 0) AS "m3__ss__num_pre__num_pre",
  "stats_pooled"."m4__n",
  "stats_pooled"."m4__s__y",
  "stats_pooled"."m4__ss__y__y",
  COALESCE("stats_src1"."m5__n", 0) AS "m5__n",
  COALESCE("stats_src1"."m5__s__y", 0) AS "m5__s__y",
  COALESCE("stats_src1"."m5__ss__y__y", 0) AS "m5__ss__y__y",
  COALESCE("stats_src0"."a0__nulls", 0) AS "a0__nulls",
  "stats_pooled"."a5__nulls",
  COALESCE("stats_src1"."a6__nulls", 0) AS "a6__nulls"
FROM arms
LEFT JOIN stats_src0
  ON "stats_src0"."arm" = "arms"."arm"
LEFT JOIN stats_src1
  ON "stats_src1"."arm" = "arms"."arm"
LEFT JOIN stats_pooled
  ON "stats_pooled"."variant" = "arms"."variant"
ORDER BY
  "arms"."variant";
