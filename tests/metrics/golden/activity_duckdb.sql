-- checkout
WITH e AS (
  SELECT
    "x"."unit_id" AS "unit_id",
    "x"."variant" AS "variant",
    "x"."timestamp" AS "ts",
    "x"."platform" AS "platform"
  FROM "exposures" AS "x"
  WHERE
    "x"."experiment_id" = 'exp'
), units AS (
  SELECT
    "unit_id",
    "t0",
    EPOCH_US("t0") AS "t0_us",
    CASE WHEN "arm" = 0 THEN 'control' WHEN "arm" = 1 THEN 'treatment' END AS "variant",
    "arm",
    "platform"
  FROM (
    SELECT
      "unit_id",
      MIN("ts") AS "t0",
      MIN("arm") AS "arm",
      MAX("arm") AS "arm_max",
      ARG_MIN("platform", "ts") AS "platform"
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
        END AS TINYINT) AS "arm",
        "platform"
      FROM e
    ) AS c
    WHERE
      NOT "unit_id" IS NULL
      AND (
        "ts" >= CAST('2026-05-04 00:00:00' AS TIMESTAMP)
        AND "ts" < CAST('2026-05-09 00:00:00' AS TIMESTAMP)
      )
    GROUP BY
      "unit_id"
  ) AS f
  WHERE
    "arm" = "arm_max" AND "arm" >= 0
), first0 AS (
  SELECT
    "s"."unit_id",
    MIN("s"."ts") AS "t"
  FROM (
    SELECT
      "unit_id",
      "__ts" AS "ts"
    FROM (
      SELECT
        "u"."unit_id",
        "u"."arm",
        "u"."t0_us",
        EPOCH_US("ev"."__ts") - "u"."t0_us" AS "__rel",
        "ev"."__ts",
        "ev"."f0"
      FROM (
        SELECT
          *
        FROM (
          SELECT
            "s"."unit_id" AS "__unit",
            "s"."ts" AS "__ts",
            event = 'view' AS "f0"
          FROM "events" AS "s"
        ) AS r
        WHERE
          "__ts" >= CAST('2026-05-04 00:00:00' AS TIMESTAMP)
          AND "__ts" < CAST('2026-05-16 00:00:00' AS TIMESTAMP)
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
    WHERE
      "f0" AND "__rel" >= 0 AND "__rel" < 604800000000
  ) AS s
  GROUP BY
    "s"."unit_id"
), first1 AS (
  SELECT
    "s"."unit_id",
    MIN("s"."ts") AS "t"
  FROM (
    SELECT
      "unit_id",
      "__ts" AS "ts"
    FROM (
      SELECT
        "u"."unit_id",
        "u"."arm",
        "u"."t0_us",
        EPOCH_US("ev"."__ts") - "u"."t0_us" AS "__rel",
        "ev"."__ts",
        "ev"."f0"
      FROM (
        SELECT
          *
        FROM (
          SELECT
            "s"."unit_id" AS "__unit",
            "s"."ts" AS "__ts",
            event = 'cart' AS "f0"
          FROM "events" AS "s"
        ) AS r
        WHERE
          "__ts" >= CAST('2026-05-04 00:00:00' AS TIMESTAMP)
          AND "__ts" < CAST('2026-05-16 00:00:00' AS TIMESTAMP)
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
    WHERE
      "f0" AND "__rel" >= 0 AND "__rel" < 604800000000
  ) AS s
  INNER JOIN first0 AS "p"
    ON "p"."unit_id" = "s"."unit_id" AND "s"."ts" >= "p"."t"
  GROUP BY
    "s"."unit_id"
), first2 AS (
  SELECT
    "s"."unit_id",
    MIN("s"."ts") AS "t"
  FROM (
    SELECT
      "unit_id",
      "__ts" AS "ts"
    FROM (
      SELECT
        "u"."unit_id",
        "u"."arm",
        "u"."t0_us",
        EPOCH_US("ev"."__ts") - "u"."t0_us" AS "__rel",
        "ev"."__ts",
        "ev"."f0"
      FROM (
        SELECT
          *
        FROM (
          SELECT
            "s"."unit_id" AS "__unit",
            "s"."ts" AS "__ts",
            event = 'purchase' AS "f0"
          FROM "events" AS "s"
        ) AS r
        WHERE
          "__ts" >= CAST('2026-05-04 00:00:00' AS TIMESTAMP)
          AND "__ts" < CAST('2026-05-16 00:00:00' AS TIMESTAMP)
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
    WHERE
      "f0" AND "__rel" >= 0 AND "__rel" < 604800000000
  ) AS s
  INNER JOIN first1 AS "p"
    ON "p"."unit_id" = "s"."unit_id" AND "s"."ts" >= "p"."t"
  GROUP BY
    "s"."unit_id"
), per_unit AS (
  SELECT
    "u"."unit_id",
    "u"."variant",
    "u"."platform",
    CASE WHEN "f0"."t" IS NULL THEN 0 ELSE 1 END AS "r0",
    CASE WHEN "f1"."t" IS NULL THEN 0 ELSE 1 END AS "r1",
    CASE WHEN "f2"."t" IS NULL THEN 0 ELSE 1 END AS "r2"
  FROM units AS "u"
  LEFT JOIN first0 AS "f0"
    ON "f0"."unit_id" = "u"."unit_id"
  LEFT JOIN first1 AS "f1"
    ON "f1"."unit_id" = "u"."unit_id"
  LEFT JOIN first2 AS "f2"
    ON "f2"."unit_id" = "u"."unit_id"
)
SELECT
  "variant",
  "platform",
  GROUPING("platform") AS "g__platform",
  COUNT("r0") AS "m1000__n",
  SUM(CAST("r0" AS DOUBLE)) AS "m1000__s__y",
  SUM(CAST("r0" AS DOUBLE) * CAST("r0" AS DOUBLE)) AS "m1000__ss__y__y",
  COUNT("r1") AS "m1001__n",
  SUM(CAST("r1" AS DOUBLE)) AS "m1001__s__y",
  SUM(CAST("r1" AS DOUBLE) * CAST("r1" AS DOUBLE)) AS "m1001__ss__y__y",
  COUNT("r2") AS "m1002__n",
  SUM(CAST("r2" AS DOUBLE)) AS "m1002__s__y",
  SUM(CAST("r2" AS DOUBLE) * CAST("r2" AS DOUBLE)) AS "m1002__ss__y__y",
  COUNT("r1") AS "m1003__n",
  SUM(CAST("r1" AS DOUBLE)) AS "m1003__s__num",
  SUM(CAST("r0" AS DOUBLE)) AS "m1003__s__den",
  SUM(CAST("r0" AS DOUBLE) * CAST("r0" AS DOUBLE)) AS "m1003__ss__den__den",
  SUM(CAST("r0" AS DOUBLE) * CAST("r1" AS DOUBLE)) AS "m1003__ss__den__num",
  SUM(CAST("r1" AS DOUBLE) * CAST("r1" AS DOUBLE)) AS "m1003__ss__num__num",
  COUNT("r2") AS "m1004__n",
  SUM(CAST("r2" AS DOUBLE)) AS "m1004__s__num",
  SUM(CAST("r1" AS DOUBLE)) AS "m1004__s__den",
  SUM(CAST("r1" AS DOUBLE) * CAST("r1" AS DOUBLE)) AS "m1004__ss__den__den",
  SUM(CAST("r1" AS DOUBLE) * CAST("r2" AS DOUBLE)) AS "m1004__ss__den__num",
  SUM(CAST("r2" AS DOUBLE) * CAST("r2" AS DOUBLE)) AS "m1004__ss__num__num"
FROM per_unit
GROUP BY
  GROUPING SETS (
    ("variant"),
    ("variant", "platform")
  )
ORDER BY
  "variant",
  "platform";

-- returned
WITH e AS (
  SELECT
    "x"."unit_id" AS "unit_id",
    "x"."variant" AS "variant",
    "x"."timestamp" AS "ts",
    "x"."platform" AS "platform"
  FROM "exposures" AS "x"
  WHERE
    "x"."experiment_id" = 'exp'
), units AS (
  SELECT
    "unit_id",
    "t0",
    EPOCH_US("t0") AS "t0_us",
    CASE WHEN "arm" = 0 THEN 'control' WHEN "arm" = 1 THEN 'treatment' END AS "variant",
    "arm",
    "platform"
  FROM (
    SELECT
      "unit_id",
      MIN("ts") AS "t0",
      MIN("arm") AS "arm",
      MAX("arm") AS "arm_max",
      ARG_MIN("platform", "ts") AS "platform"
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
        END AS TINYINT) AS "arm",
        "platform"
      FROM e
    ) AS c
    WHERE
      NOT "unit_id" IS NULL
      AND (
        "ts" >= CAST('2026-05-04 00:00:00' AS TIMESTAMP)
        AND "ts" < CAST('2026-05-09 00:00:00' AS TIMESTAMP)
      )
    GROUP BY
      "unit_id"
  ) AS f
  WHERE
    "arm" = "arm_max" AND "arm" >= 0
), horizon AS (
  SELECT
    MAX("s"."ts") AS "h"
  FROM "events" AS "s"
  WHERE
    "s"."ts" >= CAST('2026-05-04 00:00:00' AS TIMESTAMP)
), returns AS (
  SELECT
    "unit_id",
    COUNT(*) AS "hits"
  FROM (
    SELECT
      "u"."unit_id",
      "u"."arm",
      "u"."t0_us",
      EPOCH_US("ev"."__ts") - "u"."t0_us" AS "__rel",
      "ev"."__ts",
      "ev"."f0"
    FROM (
      SELECT
        *
      FROM (
        SELECT
          "s"."unit_id" AS "__unit",
          "s"."ts" AS "__ts",
          event = 'visit' AS "f0"
        FROM "events" AS "s"
      ) AS r
      WHERE
        "__ts" >= CAST('2026-05-04 00:00:00' AS TIMESTAMP)
        AND "__ts" < CAST('2026-05-14 00:00:00' AS TIMESTAMP)
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
  WHERE
    (
      "f0" AND "__rel" >= 0 AND "__rel" < 432000000000
    ) AND "__rel" > 0
  GROUP BY
    "unit_id"
), per_unit AS (
  SELECT
    "u"."unit_id",
    "u"."variant",
    "u"."platform",
    CASE
      WHEN "u"."t0" + INTERVAL '5' DAY <= (
        SELECT
          "h"
        FROM horizon
      )
      THEN CASE WHEN "r"."hits" IS NULL THEN 0 ELSE 1 END
    END AS "y"
  FROM units AS "u"
  LEFT JOIN returns AS "r"
    ON "r"."unit_id" = "u"."unit_id"
)
SELECT
  "variant",
  "platform",
  GROUPING("platform") AS "g__platform",
  COUNT("y") AS "m2000__n",
  SUM(CAST("y" AS DOUBLE)) AS "m2000__s__y",
  SUM(CAST("y" AS DOUBLE) * CAST("y" AS DOUBLE)) AS "m2000__ss__y__y"
FROM per_unit
GROUP BY
  GROUPING SETS (
    ("variant"),
    ("variant", "platform")
  )
ORDER BY
  "variant",
  "platform";

-- active_days
WITH e AS (
  SELECT
    "x"."unit_id" AS "unit_id",
    "x"."variant" AS "variant",
    "x"."timestamp" AS "ts",
    "x"."platform" AS "platform"
  FROM "exposures" AS "x"
  WHERE
    "x"."experiment_id" = 'exp'
), units AS (
  SELECT
    "unit_id",
    "t0",
    EPOCH_US("t0") AS "t0_us",
    CASE WHEN "arm" = 0 THEN 'control' WHEN "arm" = 1 THEN 'treatment' END AS "variant",
    "arm",
    "platform"
  FROM (
    SELECT
      "unit_id",
      MIN("ts") AS "t0",
      MIN("arm") AS "arm",
      MAX("arm") AS "arm_max",
      ARG_MIN("platform", "ts") AS "platform"
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
        END AS TINYINT) AS "arm",
        "platform"
      FROM e
    ) AS c
    WHERE
      NOT "unit_id" IS NULL
      AND (
        "ts" >= CAST('2026-05-04 00:00:00' AS TIMESTAMP)
        AND "ts" < CAST('2026-05-09 00:00:00' AS TIMESTAMP)
      )
    GROUP BY
      "unit_id"
  ) AS f
  WHERE
    "arm" = "arm_max" AND "arm" >= 0
), horizon AS (
  SELECT
    MAX("s"."ts") AS "h"
  FROM "events" AS "s"
  WHERE
    "s"."ts" >= CAST('2026-05-04 00:00:00' AS TIMESTAMP)
), days AS (
  SELECT
    "unit_id",
    CAST(COUNT(*) FILTER(WHERE
      "__rel" >= 0 AND "__rel" < 86400000000) > 0 AS INT) AS "d0",
    CAST(COUNT(*) FILTER(WHERE
      "__rel" >= 86400000000 AND "__rel" < 172800000000) > 0 AS INT) AS "d1",
    CAST(COUNT(*) FILTER(WHERE
      "__rel" >= 172800000000 AND "__rel" < 259200000000) > 0 AS INT) AS "d2",
    CAST(COUNT(*) FILTER(WHERE
      "__rel" >= 259200000000 AND "__rel" < 345600000000) > 0 AS INT) AS "d3",
    CAST(COUNT(*) FILTER(WHERE
      "__rel" >= 345600000000 AND "__rel" < 432000000000) > 0 AS INT) AS "d4",
    CAST(COUNT(*) FILTER(WHERE
      "__rel" >= 432000000000 AND "__rel" < 518400000000) > 0 AS INT) AS "d5"
  FROM (
    SELECT
      "u"."unit_id",
      "u"."arm",
      "u"."t0_us",
      EPOCH_US("ev"."__ts") - "u"."t0_us" AS "__rel",
      "ev"."__ts"
    FROM (
      SELECT
        *
      FROM (
        SELECT
          "s"."unit_id" AS "__unit",
          "s"."ts" AS "__ts"
        FROM "events" AS "s"
      ) AS r
      WHERE
        "__ts" >= CAST('2026-05-04 00:00:00' AS TIMESTAMP)
        AND "__ts" < CAST('2026-05-15 00:00:00' AS TIMESTAMP)
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
    "unit_id"
), unit_days AS (
  SELECT
    "u"."unit_id",
    "u"."variant",
    "u"."platform",
    (
      (
        CASE
          WHEN "u"."t0" + INTERVAL '1' DAY <= (
            SELECT
              "h"
            FROM horizon
          )
          THEN 1
          ELSE 0
        END
      ) + (
        (
          CASE
            WHEN "u"."t0" + INTERVAL '2' DAY <= (
              SELECT
                "h"
              FROM horizon
            )
            THEN 1
            ELSE 0
          END
        ) + (
          CASE
            WHEN "u"."t0" + INTERVAL '3' DAY <= (
              SELECT
                "h"
              FROM horizon
            )
            THEN 1
            ELSE 0
          END
        )
      )
    ) + (
      (
        CASE
          WHEN "u"."t0" + INTERVAL '4' DAY <= (
            SELECT
              "h"
            FROM horizon
          )
          THEN 1
          ELSE 0
        END
      ) + (
        (
          CASE
            WHEN "u"."t0" + INTERVAL '5' DAY <= (
              SELECT
                "h"
              FROM horizon
            )
            THEN 1
            ELSE 0
          END
        ) + (
          CASE
            WHEN "u"."t0" + INTERVAL '6' DAY <= (
              SELECT
                "h"
              FROM horizon
            )
            THEN 1
            ELSE 0
          END
        )
      )
    ) AS "observed",
    (
      (
        CASE
          WHEN "u"."t0" + INTERVAL '1' DAY <= (
            SELECT
              "h"
            FROM horizon
          )
          AND "a"."d0" = 1
          THEN 1
          ELSE 0
        END
      ) + (
        (
          CASE
            WHEN "u"."t0" + INTERVAL '2' DAY <= (
              SELECT
                "h"
              FROM horizon
            )
            AND "a"."d1" = 1
            THEN 1
            ELSE 0
          END
        ) + (
          CASE
            WHEN "u"."t0" + INTERVAL '3' DAY <= (
              SELECT
                "h"
              FROM horizon
            )
            AND "a"."d2" = 1
            THEN 1
            ELSE 0
          END
        )
      )
    ) + (
      (
        CASE
          WHEN "u"."t0" + INTERVAL '4' DAY <= (
            SELECT
              "h"
            FROM horizon
          )
          AND "a"."d3" = 1
          THEN 1
          ELSE 0
        END
      ) + (
        (
          CASE
            WHEN "u"."t0" + INTERVAL '5' DAY <= (
              SELECT
                "h"
              FROM horizon
            )
            AND "a"."d4" = 1
            THEN 1
            ELSE 0
          END
        ) + (
          CASE
            WHEN "u"."t0" + INTERVAL '6' DAY <= (
              SELECT
                "h"
              FROM horizon
            )
            AND "a"."d5" = 1
            THEN 1
            ELSE 0
          END
        )
      )
    ) AS "active"
  FROM units AS "u"
  LEFT JOIN days AS "a"
    ON "a"."unit_id" = "u"."unit_id"
), per_unit AS (
  SELECT
    "unit_id",
    "variant",
    "platform",
    CASE WHEN "observed" > 0 THEN CAST("active" AS DOUBLE) / "observed" END AS "y"
  FROM unit_days
)
SELECT
  "variant",
  "platform",
  GROUPING("platform") AS "g__platform",
  COUNT("y") AS "m3000__n",
  SUM(CAST("y" AS DOUBLE)) AS "m3000__s__y",
  SUM(CAST("y" AS DOUBLE) * CAST("y" AS DOUBLE)) AS "m3000__ss__y__y"
FROM per_unit
GROUP BY
  GROUPING SETS (
    ("variant"),
    ("variant", "platform")
  )
ORDER BY
  "variant",
  "platform";
