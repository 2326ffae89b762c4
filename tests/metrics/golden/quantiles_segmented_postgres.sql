-- p95_latency by region
WITH e AS (
  SELECT
    "x"."unit_id" AS "unit_id",
    "x"."variant" AS "variant",
    "x"."timestamp" AS "ts",
    "x"."region" AS "region"
  FROM "exposures" AS "x"
  WHERE
    "x"."experiment_id" = 'exp'
), units AS (
  SELECT
    "unit_id",
    "t0",
    CASE WHEN "arm" = 0 THEN 'control' WHEN "arm" = 1 THEN 'faster' END AS "variant",
    "arm",
    "region"
  FROM (
    SELECT
      "unit_id",
      MIN("ts") AS "t0",
      MIN("arm") AS "arm",
      MAX("arm") AS "arm_max",
      (
        ARRAY_AGG("region" ORDER BY "ts")
      )[1] AS "region"
    FROM (
      SELECT
        "unit_id",
        "ts",
        CAST(CASE
          WHEN "variant" IS NULL
          THEN NULL
          WHEN "variant" = 'control'
          THEN 0
          WHEN "variant" = 'faster'
          THEN 1
          ELSE -1
        END AS SMALLINT) AS "arm",
        "region"
      FROM e
    ) AS c
    WHERE
      NOT "unit_id" IS NULL
      AND (
        "ts" >= CAST('2026-03-02 00:00:00' AS TIMESTAMP)
        AND "ts" < CAST('2026-03-09 00:00:00' AS TIMESTAMP)
      )
    GROUP BY
      "unit_id"
  ) AS f
  WHERE
    "arm" = "arm_max" AND "arm" >= 0
), vals AS (
  SELECT
    "ev"."unit_id",
    "ev"."variant",
    "su"."region",
    "ev"."v"
  FROM (
    SELECT
      "unit_id",
      CASE WHEN "arm" = 0 THEN 'control' WHEN "arm" = 1 THEN 'faster' END AS "variant",
      "v0" AS "v"
    FROM (
      SELECT
        "u"."unit_id",
        "u"."arm",
        "u"."t0",
        "ev"."__ts",
        "ev"."v0",
        "ev"."f0"
      FROM (
        SELECT
          *
        FROM (
          SELECT
            "s"."unit_id" AS "__unit",
            "s"."ts" AS "__ts",
            latency_ms AS "v0",
            status = 'ok' AS "f0"
          FROM "requests" AS "s"
        ) AS r
        WHERE
          "__ts" >= CAST('2026-03-02 00:00:00' AS TIMESTAMP)
          AND "__ts" < CAST('2026-03-16 00:00:00' AS TIMESTAMP)
      ) AS ev
      INNER JOIN (
        SELECT
          "unit_id",
          "t0",
          "arm"
        FROM units
      ) AS u
        ON "ev"."__unit" = "u"."unit_id"
    ) AS j
    WHERE
      (
        "f0" AND "__ts" >= "t0" AND "__ts" < (
          "t0" + INTERVAL '7 DAY'
        )
      )
      AND NOT "v0" IS NULL
  ) AS ev
  INNER JOIN units AS "su"
    ON "su"."unit_id" = "ev"."unit_id"
), ranks AS (
  SELECT
    "variant",
    "region",
    "n_values",
    CASE
      WHEN "k_raw" < 1
      THEN 1
      WHEN "k_raw" > "n_values"
      THEN "n_values"
      ELSE "k_raw"
    END AS "k",
    CASE
      WHEN "k_lo_raw" < 1
      THEN 1
      WHEN "k_lo_raw" > "n_values"
      THEN "n_values"
      ELSE "k_lo_raw"
    END AS "k_lo",
    CASE
      WHEN "k_hi_raw" < 1
      THEN 1
      WHEN "k_hi_raw" > "n_values"
      THEN "n_values"
      ELSE "k_hi_raw"
    END AS "k_hi"
  FROM (
    SELECT
      "variant",
      "region",
      "n_values",
      CAST(CEIL(CAST("n_values" AS DOUBLE PRECISION) * CAST(0.95 AS DOUBLE PRECISION)) AS BIGINT) AS "k_raw",
      CAST(CEIL(
        CAST("n_values" AS DOUBLE PRECISION) * CAST(0.95 AS DOUBLE PRECISION) - CAST(0.4271642470794707 AS DOUBLE PRECISION) * SQRT(CAST("n_values" AS DOUBLE PRECISION))
      ) AS BIGINT) AS "k_lo_raw",
      CAST(CEIL(
        CAST("n_values" AS DOUBLE PRECISION) * CAST(0.95 AS DOUBLE PRECISION) + CAST(0.4271642470794707 AS DOUBLE PRECISION) * SQRT(CAST("n_values" AS DOUBLE PRECISION))
      ) AS BIGINT) AS "k_hi_raw"
    FROM (
      SELECT
        "variant",
        "region",
        COUNT(*) AS "n_values"
      FROM vals
      GROUP BY
        "variant",
        "region"
    ) AS counted
  ) AS ceilings
), ranked AS (
  SELECT
    "variant",
    "region",
    "v",
    ROW_NUMBER() OVER (PARTITION BY "variant", "region" ORDER BY "v") AS "r"
  FROM vals
), picked AS (
  SELECT
    "k"."variant",
    "k"."region",
    "k"."n_values",
    MAX(CASE WHEN "x"."r" = "k"."k" THEN "x"."v" END) AS "q",
    MAX(CASE WHEN "x"."r" = "k"."k_lo" THEN "x"."v" END) AS "q_lo",
    MAX(CASE WHEN "x"."r" = "k"."k_hi" THEN "x"."v" END) AS "q_hi"
  FROM ranked AS "x"
  INNER JOIN ranks AS "k"
    ON "k"."variant" = "x"."variant" AND "k"."region" IS NOT DISTINCT FROM "x"."region"
  GROUP BY
    "k"."variant",
    "k"."region",
    "k"."n_values"
), clusters AS (
  SELECT
    "e"."variant",
    "e"."region",
    "e"."unit_id",
    CAST(COUNT(*) AS DOUBLE PRECISION) AS "m",
    CAST(SUM(CASE WHEN "e"."v" <= "p"."q" THEN 1 ELSE 0 END) AS DOUBLE PRECISION) AS "s"
  FROM vals AS "e"
  INNER JOIN picked AS "p"
    ON "p"."variant" = "e"."variant" AND "p"."region" IS NOT DISTINCT FROM "e"."region"
  GROUP BY
    "e"."variant",
    "e"."region",
    "e"."unit_id"
), cluster_stats AS (
  SELECT
    "variant",
    "region",
    COUNT(*) AS "n",
    SUM("m") AS "s__m",
    SUM("s") AS "s__s",
    SUM("m" * "m") AS "ss__m__m",
    SUM("m" * "s") AS "ss__m__s",
    SUM("s" * "s") AS "ss__s__s"
  FROM clusters
  GROUP BY
    "variant",
    "region"
)
SELECT
  "p"."variant",
  "p"."region",
  "p"."n_values",
  "p"."q",
  "p"."q_lo",
  "p"."q_hi",
  "c"."n",
  "c"."s__m",
  "c"."s__s",
  "c"."ss__m__m",
  "c"."ss__m__s",
  "c"."ss__s__s"
FROM picked AS "p"
LEFT JOIN cluster_stats AS "c"
  ON "c"."variant" = "p"."variant" AND "c"."region" IS NOT DISTINCT FROM "p"."region"
ORDER BY
  "variant",
  "region";

-- median_total_ms by region
WITH e AS (
  SELECT
    "x"."unit_id" AS "unit_id",
    "x"."variant" AS "variant",
    "x"."timestamp" AS "ts",
    "x"."region" AS "region"
  FROM "exposures" AS "x"
  WHERE
    "x"."experiment_id" = 'exp'
), units AS (
  SELECT
    "unit_id",
    "t0",
    CASE WHEN "arm" = 0 THEN 'control' WHEN "arm" = 1 THEN 'faster' END AS "variant",
    "arm",
    "region"
  FROM (
    SELECT
      "unit_id",
      MIN("ts") AS "t0",
      MIN("arm") AS "arm",
      MAX("arm") AS "arm_max",
      (
        ARRAY_AGG("region" ORDER BY "ts")
      )[1] AS "region"
    FROM (
      SELECT
        "unit_id",
        "ts",
        CAST(CASE
          WHEN "variant" IS NULL
          THEN NULL
          WHEN "variant" = 'control'
          THEN 0
          WHEN "variant" = 'faster'
          THEN 1
          ELSE -1
        END AS SMALLINT) AS "arm",
        "region"
      FROM e
    ) AS c
    WHERE
      NOT "unit_id" IS NULL
      AND (
        "ts" >= CAST('2026-03-02 00:00:00' AS TIMESTAMP)
        AND "ts" < CAST('2026-03-09 00:00:00' AS TIMESTAMP)
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
      "__ts" >= "t0" AND "__ts" < (
        "t0" + INTERVAL '7 DAY'
      )) AS "a0",
    COUNT(*) FILTER(WHERE
      (
        "__ts" >= "t0" AND "__ts" < (
          "t0" + INTERVAL '7 DAY'
        )
      )
      AND "v0" IS NULL) AS "a0__nulls"
  FROM (
    SELECT
      "u"."unit_id",
      "u"."arm",
      "u"."t0",
      "ev"."__ts",
      "ev"."v0"
    FROM (
      SELECT
        *
      FROM (
        SELECT
          "s"."unit_id" AS "__unit",
          "s"."ts" AS "__ts",
          latency_ms AS "v0"
        FROM "requests" AS "s"
      ) AS r
      WHERE
        "__ts" >= CAST('2026-03-02 00:00:00' AS TIMESTAMP)
        AND "__ts" < CAST('2026-03-16 00:00:00' AS TIMESTAMP)
    ) AS ev
    INNER JOIN (
      SELECT
        "unit_id",
        "t0",
        "arm"
      FROM units
    ) AS u
      ON "ev"."__unit" = "u"."unit_id"
  ) AS j
  GROUP BY
    "unit_id",
    "arm"
), per_unit AS (
  SELECT
    "u"."unit_id",
    "u"."variant",
    "u"."region",
    CAST(COALESCE("src0"."a0", 0) AS DOUBLE PRECISION) AS "a0",
    COALESCE("src0"."a0__nulls", 0) AS "a0__nulls"
  FROM units AS "u"
  LEFT JOIN src0 AS "src0"
    ON "src0"."unit_id" = "u"."unit_id"
), vals AS (
  SELECT
    "unit_id",
    "variant",
    "region",
    "a0" AS "v"
  FROM per_unit
  WHERE
    NOT "a0" IS NULL
), ranks AS (
  SELECT
    "variant",
    "region",
    "n_values",
    CASE
      WHEN "k_raw" < 1
      THEN 1
      WHEN "k_raw" > "n_values"
      THEN "n_values"
      ELSE "k_raw"
    END AS "k",
    CASE
      WHEN "k_lo_raw" < 1
      THEN 1
      WHEN "k_lo_raw" > "n_values"
      THEN "n_values"
      ELSE "k_lo_raw"
    END AS "k_lo",
    CASE
      WHEN "k_hi_raw" < 1
      THEN 1
      WHEN "k_hi_raw" > "n_values"
      THEN "n_values"
      ELSE "k_hi_raw"
    END AS "k_hi"
  FROM (
    SELECT
      "variant",
      "region",
      "n_values",
      CAST(CEIL(CAST("n_values" AS DOUBLE PRECISION) * CAST(0.5 AS DOUBLE PRECISION)) AS BIGINT) AS "k_raw",
      CAST(CEIL(
        CAST("n_values" AS DOUBLE PRECISION) * CAST(0.5 AS DOUBLE PRECISION) - CAST(0.979981992270027 AS DOUBLE PRECISION) * SQRT(CAST("n_values" AS DOUBLE PRECISION))
      ) AS BIGINT) AS "k_lo_raw",
      CAST(CEIL(
        CAST("n_values" AS DOUBLE PRECISION) * CAST(0.5 AS DOUBLE PRECISION) + CAST(0.979981992270027 AS DOUBLE PRECISION) * SQRT(CAST("n_values" AS DOUBLE PRECISION))
      ) AS BIGINT) AS "k_hi_raw"
    FROM (
      SELECT
        "variant",
        "region",
        COUNT(*) AS "n_values"
      FROM vals
      GROUP BY
        "variant",
        "region"
    ) AS counted
  ) AS ceilings
), ranked AS (
  SELECT
    "variant",
    "region",
    "v",
    ROW_NUMBER() OVER (PARTITION BY "variant", "region" ORDER BY "v") AS "r"
  FROM vals
), picked AS (
  SELECT
    "k"."variant",
    "k"."region",
    "k"."n_values",
    MAX(CASE WHEN "x"."r" = "k"."k" THEN "x"."v" END) AS "q",
    MAX(CASE WHEN "x"."r" = "k"."k_lo" THEN "x"."v" END) AS "q_lo",
    MAX(CASE WHEN "x"."r" = "k"."k_hi" THEN "x"."v" END) AS "q_hi"
  FROM ranked AS "x"
  INNER JOIN ranks AS "k"
    ON "k"."variant" = "x"."variant" AND "k"."region" IS NOT DISTINCT FROM "x"."region"
  GROUP BY
    "k"."variant",
    "k"."region",
    "k"."n_values"
)
SELECT
  "variant",
  "region",
  "n_values",
  "q",
  "q_lo",
  "q_hi"
FROM picked
ORDER BY
  "variant",
  "region";

-- p90_mean_ms by region
WITH e AS (
  SELECT
    "x"."unit_id" AS "unit_id",
    "x"."variant" AS "variant",
    "x"."timestamp" AS "ts",
    "x"."region" AS "region"
  FROM "exposures" AS "x"
  WHERE
    "x"."experiment_id" = 'exp'
), units AS (
  SELECT
    "unit_id",
    "t0",
    CASE WHEN "arm" = 0 THEN 'control' WHEN "arm" = 1 THEN 'faster' END AS "variant",
    "arm",
    "region"
  FROM (
    SELECT
      "unit_id",
      MIN("ts") AS "t0",
      MIN("arm") AS "arm",
      MAX("arm") AS "arm_max",
      (
        ARRAY_AGG("region" ORDER BY "ts")
      )[1] AS "region"
    FROM (
      SELECT
        "unit_id",
        "ts",
        CAST(CASE
          WHEN "variant" IS NULL
          THEN NULL
          WHEN "variant" = 'control'
          THEN 0
          WHEN "variant" = 'faster'
          THEN 1
          ELSE -1
        END AS SMALLINT) AS "arm",
        "region"
      FROM e
    ) AS c
    WHERE
      NOT "unit_id" IS NULL
      AND (
        "ts" >= CAST('2026-03-02 00:00:00' AS TIMESTAMP)
        AND "ts" < CAST('2026-03-09 00:00:00' AS TIMESTAMP)
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
    AVG("v0") FILTER(WHERE
      "__ts" >= "t0" AND "__ts" < (
        "t0" + INTERVAL '7 DAY'
      )) AS "a0",
    COUNT(*) FILTER(WHERE
      (
        "__ts" >= "t0" AND "__ts" < (
          "t0" + INTERVAL '7 DAY'
        )
      )
      AND "v0" IS NULL) AS "a0__nulls"
  FROM (
    SELECT
      "u"."unit_id",
      "u"."arm",
      "u"."t0",
      "ev"."__ts",
      "ev"."v0"
    FROM (
      SELECT
        *
      FROM (
        SELECT
          "s"."unit_id" AS "__unit",
          "s"."ts" AS "__ts",
          latency_ms AS "v0"
        FROM "requests" AS "s"
      ) AS r
      WHERE
        "__ts" >= CAST('2026-03-02 00:00:00' AS TIMESTAMP)
        AND "__ts" < CAST('2026-03-16 00:00:00' AS TIMESTAMP)
    ) AS ev
    INNER JOIN (
      SELECT
        "unit_id",
        "t0",
        "arm"
      FROM units
    ) AS u
      ON "ev"."__unit" = "u"."unit_id"
  ) AS j
  GROUP BY
    "unit_id",
    "arm"
), per_unit AS (
  SELECT
    "u"."unit_id",
    "u"."variant",
    "u"."region",
    CAST("src0"."a0" AS DOUBLE PRECISION) AS "a0",
    COALESCE("src0"."a0__nulls", 0) AS "a0__nulls"
  FROM units AS "u"
  LEFT JOIN src0 AS "src0"
    ON "src0"."unit_id" = "u"."unit_id"
), vals AS (
  SELECT
    "unit_id",
    "variant",
    "region",
    "a0" AS "v"
  FROM per_unit
  WHERE
    NOT "a0" IS NULL
), ranks AS (
  SELECT
    "variant",
    "region",
    "n_values",
    CASE
      WHEN "k_raw" < 1
      THEN 1
      WHEN "k_raw" > "n_values"
      THEN "n_values"
      ELSE "k_raw"
    END AS "k",
    CASE
      WHEN "k_lo_raw" < 1
      THEN 1
      WHEN "k_lo_raw" > "n_values"
      THEN "n_values"
      ELSE "k_lo_raw"
    END AS "k_lo",
    CASE
      WHEN "k_hi_raw" < 1
      THEN 1
      WHEN "k_hi_raw" > "n_values"
      THEN "n_values"
      ELSE "k_hi_raw"
    END AS "k_hi"
  FROM (
    SELECT
      "variant",
      "region",
      "n_values",
      CAST(CEIL(CAST("n_values" AS DOUBLE PRECISION) * CAST(0.9 AS DOUBLE PRECISION)) AS BIGINT) AS "k_raw",
      CAST(CEIL(
        CAST("n_values" AS DOUBLE PRECISION) * CAST(0.9 AS DOUBLE PRECISION) - CAST(0.5879891953620162 AS DOUBLE PRECISION) * SQRT(CAST("n_values" AS DOUBLE PRECISION))
      ) AS BIGINT) AS "k_lo_raw",
      CAST(CEIL(
        CAST("n_values" AS DOUBLE PRECISION) * CAST(0.9 AS DOUBLE PRECISION) + CAST(0.5879891953620162 AS DOUBLE PRECISION) * SQRT(CAST("n_values" AS DOUBLE PRECISION))
      ) AS BIGINT) AS "k_hi_raw"
    FROM (
      SELECT
        "variant",
        "region",
        COUNT(*) AS "n_values"
      FROM vals
      GROUP BY
        "variant",
        "region"
    ) AS counted
  ) AS ceilings
), ranked AS (
  SELECT
    "variant",
    "region",
    "v",
    ROW_NUMBER() OVER (PARTITION BY "variant", "region" ORDER BY "v") AS "r"
  FROM vals
), picked AS (
  SELECT
    "k"."variant",
    "k"."region",
    "k"."n_values",
    MAX(CASE WHEN "x"."r" = "k"."k" THEN "x"."v" END) AS "q",
    MAX(CASE WHEN "x"."r" = "k"."k_lo" THEN "x"."v" END) AS "q_lo",
    MAX(CASE WHEN "x"."r" = "k"."k_hi" THEN "x"."v" END) AS "q_hi"
  FROM ranked AS "x"
  INNER JOIN ranks AS "k"
    ON "k"."variant" = "x"."variant" AND "k"."region" IS NOT DISTINCT FROM "x"."region"
  GROUP BY
    "k"."variant",
    "k"."region",
    "k"."n_values"
)
SELECT
  "variant",
  "region",
  "n_values",
  "q",
  "q_lo",
  "q_hi"
FROM picked
ORDER BY
  "variant",
  "region";
