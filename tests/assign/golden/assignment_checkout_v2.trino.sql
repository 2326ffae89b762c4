WITH hashed AS (
  SELECT
    *,
    FROM_BASE(
      SUBSTR(
        TO_HEX(MD5(TO_UTF8('checkout_v2_salt:' || CAST("units"."unit_id" AS VARCHAR)))),
        1,
        8
      ),
      16
    ) % 10000 AS "_assay_bucket",
    FROM_BASE(
      SUBSTR(
        TO_HEX(MD5(TO_UTF8('checkout_v2_salt:traffic:' || CAST("units"."unit_id" AS VARCHAR)))),
        1,
        8
      ),
      16
    ) % 10000 AS "_assay_traffic_bucket",
    FROM_BASE(
      SUBSTR(TO_HEX(MD5(TO_UTF8('layer:checkout:' || CAST("units"."unit_id" AS VARCHAR)))), 1, 8),
      16
    ) % 10000 AS "_assay_layer_bucket"
  FROM "units" AS "units"
)
SELECT
  "unit_id" AS "unit_id",
  "_assay_bucket" AS "bucket",
  CASE
    WHEN "unit_id" = 'qa-1'
    THEN 'treatment'
    WHEN CASE
      WHEN FROM_BASE(
        SUBSTR(TO_HEX(MD5(TO_UTF8('holdout_2026:traffic:' || CAST("unit_id" AS VARCHAR)))), 1, 8),
        16
      ) % 10000 >= 1000
      THEN NULL
      WHEN FROM_BASE(
        SUBSTR(TO_HEX(MD5(TO_UTF8('holdout_2026:' || CAST("unit_id" AS VARCHAR)))), 1, 8),
        16
      ) % 10000 >= 0
      AND FROM_BASE(
        SUBSTR(TO_HEX(MD5(TO_UTF8('holdout_2026:' || CAST("unit_id" AS VARCHAR)))), 1, 8),
        16
      ) % 10000 < 5000
      THEN 'held'
      WHEN FROM_BASE(
        SUBSTR(TO_HEX(MD5(TO_UTF8('holdout_2026:' || CAST("unit_id" AS VARCHAR)))), 1, 8),
        16
      ) % 10000 >= 5000
      AND FROM_BASE(
        SUBSTR(TO_HEX(MD5(TO_UTF8('holdout_2026:' || CAST("unit_id" AS VARCHAR)))), 1, 8),
        16
      ) % 10000 < 10000
      THEN 'rest'
      ELSE NULL
    END = 'held'
    THEN NULL
    WHEN NOT COALESCE((
      "country" IN ('DE', 'FR') AND (
        "age" >= 18 OR "age" IS NULL
      )
    ), FALSE)
    THEN NULL
    WHEN NOT (
      "_assay_layer_bucket" >= 0 AND "_assay_layer_bucket" < 6000
    )
    THEN NULL
    WHEN "_assay_traffic_bucket" >= 8000
    THEN NULL
    WHEN "_assay_bucket" >= 0 AND "_assay_bucket" < 1666
    THEN 'control'
    WHEN "_assay_bucket" >= 5000 AND "_assay_bucket" < 10000
    THEN 'treatment'
    ELSE NULL
  END AS "variant"
FROM hashed
