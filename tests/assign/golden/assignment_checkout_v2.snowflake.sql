WITH hashed AS (
  SELECT
    *,
    TO_NUMBER(
      SUBSTRING(MD5('checkout_v2_salt:' || CAST("units"."unit_id" AS VARCHAR)), 1, 8),
      'xxxxxxxx'
    ) % 10000 AS "_assay_bucket",
    TO_NUMBER(
      SUBSTRING(MD5('checkout_v2_salt:traffic:' || CAST("units"."unit_id" AS VARCHAR)), 1, 8),
      'xxxxxxxx'
    ) % 10000 AS "_assay_traffic_bucket",
    TO_NUMBER(
      SUBSTRING(MD5('layer:checkout:' || CAST("units"."unit_id" AS VARCHAR)), 1, 8),
      'xxxxxxxx'
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
      WHEN TO_NUMBER(
        SUBSTRING(MD5('holdout_2026:traffic:' || CAST("unit_id" AS VARCHAR)), 1, 8),
        'xxxxxxxx'
      ) % 10000 >= 1000
      THEN NULL
      WHEN TO_NUMBER(SUBSTRING(MD5('holdout_2026:' || CAST("unit_id" AS VARCHAR)), 1, 8), 'xxxxxxxx') % 10000 >= 0
      AND TO_NUMBER(SUBSTRING(MD5('holdout_2026:' || CAST("unit_id" AS VARCHAR)), 1, 8), 'xxxxxxxx') % 10000 < 5000
      THEN 'held'
      WHEN TO_NUMBER(SUBSTRING(MD5('holdout_2026:' || CAST("unit_id" AS VARCHAR)), 1, 8), 'xxxxxxxx') % 10000 >= 5000
      AND TO_NUMBER(SUBSTRING(MD5('holdout_2026:' || CAST("unit_id" AS VARCHAR)), 1, 8), 'xxxxxxxx') % 10000 < 10000
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
