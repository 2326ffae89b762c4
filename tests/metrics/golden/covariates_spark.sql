-- exposures
WITH e AS (
  SELECT
    `x`.`user_id` AS `unit_id`,
    `x`.`variant` AS `variant`,
    `x`.`exposed_at` AS `ts`
  FROM `exposures` AS `x`
  WHERE
    `x`.`experiment_id` = 'exp'
), u AS (
  SELECT
    `unit_id`,
    MIN(`variant`) FILTER(WHERE
      `ts` >= CAST('2026-05-04 00:00:00' AS TIMESTAMP)
      AND `ts` < CAST('2026-05-11 00:00:00' AS TIMESTAMP)) AS `variant`,
    MAX(`variant`) FILTER(WHERE
      `ts` >= CAST('2026-05-04 00:00:00' AS TIMESTAMP)
      AND `ts` < CAST('2026-05-11 00:00:00' AS TIMESTAMP)) AS `variant_max`,
    COUNT(*) FILTER(WHERE
      `ts` >= CAST('2026-05-04 00:00:00' AS TIMESTAMP)
      AND `ts` < CAST('2026-05-11 00:00:00' AS TIMESTAMP)) AS `rows`,
    COUNT(*) AS `all_rows`
  FROM e
  GROUP BY
    `unit_id`
)
SELECT
  CASE
    WHEN `unit_id` IS NULL
    THEN 'missing'
    WHEN `rows` = 0
    THEN 'outside'
    WHEN `variant` IS NULL
    THEN 'no_variant'
    WHEN `variant` = `variant_max`
    THEN 'arm'
    ELSE 'multi'
  END AS `kind`,
  CASE WHEN NOT `unit_id` IS NULL AND `variant` = `variant_max` THEN `variant` END AS `variant`,
  COUNT(*) AS `units`,
  SUM(`rows`) AS `exposure_rows`,
  SUM(`all_rows` - `rows`) AS `outside_rows`,
  SUM(`all_rows`) AS `all_rows`
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
    `x`.`user_id` AS `unit_id`,
    `x`.`variant` AS `variant`,
    `x`.`exposed_at` AS `ts`
  FROM `exposures` AS `x`
  WHERE
    `x`.`experiment_id` = 'exp'
), units AS (
  SELECT
    `unit_id`,
    `t0`,
    UNIX_MICROS(`t0`) AS `t0_us`,
    CASE WHEN `arm` = 0 THEN 'control' WHEN `arm` = 1 THEN 'treatment' END AS `variant`,
    `arm`
  FROM (
    SELECT
      `unit_id`,
      MIN(`ts`) AS `t0`,
      MIN(`arm`) AS `arm`,
      MAX(`arm`) AS `arm_max`
    FROM (
      SELECT
        `unit_id`,
        `ts`,
        CAST(CASE
          WHEN `variant` IS NULL
          THEN NULL
          WHEN `variant` = 'control'
          THEN 0
          WHEN `variant` = 'treatment'
          THEN 1
          ELSE -1
        END AS TINYINT) AS `arm`
      FROM e
    ) AS c
    WHERE
      NOT `unit_id` IS NULL
      AND (
        `ts` >= CAST('2026-05-04 00:00:00' AS TIMESTAMP)
        AND `ts` < CAST('2026-05-11 00:00:00' AS TIMESTAMP)
      )
    GROUP BY
      `unit_id`
  ) AS f
  WHERE
    `arm` = `arm_max` AND `arm` >= 0
), src0 AS (
  SELECT
    `unit_id`,
    `arm`,
    SUM(`v0`) FILTER(WHERE
      `__rel` >= 0 AND `__rel` < 604800000000) AS `a0`,
    COUNT(*) FILTER(WHERE
      (
        `__rel` >= 0 AND `__rel` < 604800000000
      ) AND `v0` IS NULL) AS `a0__nulls`,
    SUM(`v0`) FILTER(WHERE
      `__rel` >= -1209600000000 AND `__rel` < 0) AS `a1`,
    CAST(COUNT(*) FILTER(WHERE
      `__rel` >= 0 AND `__rel` < 604800000000) > 0 AS INT) AS `a7`
  FROM (
    SELECT
      `u`.`unit_id`,
      `u`.`arm`,
      `u`.`t0_us`,
      UNIX_MICROS(`ev`.`__ts`) - `u`.`t0_us` AS `__rel`,
      `ev`.`__ts`,
      `ev`.`v0`
    FROM (
      SELECT
        *
      FROM (
        SELECT
          `s`.`user_id` AS `__unit`,
          `s`.`ordered_at` AS `__ts`,
          amount AS `v0`
        FROM `orders` AS `s`
      ) AS r
      WHERE
        `__ts` >= CAST('2026-04-20 00:00:00' AS TIMESTAMP)
        AND `__ts` < CAST('2026-05-18 00:00:00' AS TIMESTAMP)
    ) AS ev
    INNER JOIN (
      SELECT
        `unit_id`,
        `t0_us`,
        `arm`
      FROM units
    ) AS u
      ON `ev`.`__unit` = `u`.`unit_id`
  ) AS j
  GROUP BY
    `unit_id`,
    `arm`
), src1 AS (
  SELECT
    `unit_id`,
    `arm`,
    COUNT(*) FILTER(WHERE
      `__rel` >= -1209600000000 AND `__rel` < 0) AS `a2`
  FROM (
    SELECT
      `u`.`unit_id`,
      `u`.`arm`,
      `u`.`t0_us`,
      UNIX_MICROS(`ev`.`__ts`) - `u`.`t0_us` AS `__rel`,
      `ev`.`__ts`
    FROM (
      SELECT
        *
      FROM (
        SELECT
          `s`.`user_id` AS `__unit`,
          `s`.`started_at` AS `__ts`
        FROM `sessions` AS `s`
      ) AS r
      WHERE
        `__ts` >= CAST('2026-04-20 00:00:00' AS TIMESTAMP)
        AND `__ts` < CAST('2026-05-11 00:00:00' AS TIMESTAMP)
    ) AS ev
    INNER JOIN (
      SELECT
        `unit_id`,
        `t0_us`,
        `arm`
      FROM units
    ) AS u
      ON `ev`.`__unit` = `u`.`unit_id`
  ) AS j
  GROUP BY
    `unit_id`,
    `arm`
), src2 AS (
  SELECT
    `unit_id`,
    `arm`,
    MAX(`v0`) FILTER(WHERE
      `f0` AND `__rel` >= 0 AND `__rel` < 1000000) AS `a3`,
    MAX(`v1`) FILTER(WHERE
      `f0` AND `__rel` >= 0 AND `__rel` < 1000000) AS `a4`,
    MAX(`v2`) FILTER(WHERE
      `f0` AND `__rel` >= 0 AND `__rel` < 1000000) AS `a5`
  FROM (
    SELECT
      `u`.`unit_id`,
      `u`.`arm`,
      `u`.`t0_us`,
      UNIX_MICROS(`ev`.`__ts`) - `u`.`t0_us` AS `__rel`,
      `ev`.`__ts`,
      `ev`.`v0`,
      `ev`.`v1`,
      `ev`.`v2`,
      `ev`.`f0`
    FROM (
      SELECT
        *
      FROM (
        SELECT
          `s`.`user_id` AS `__unit`,
          `s`.`exposed_at` AS `__ts`,
          `tenure_days` AS `v0`,
          CASE WHEN `plan` = 'pro' THEN 1 ELSE 0 END AS `v1`,
          CASE WHEN `plan` = 'team' THEN 1 ELSE 0 END AS `v2`,
          `experiment_id` = 'exp' AS `f0`
        FROM `exposures` AS `s`
      ) AS r
      WHERE
        `__ts` >= CAST('2026-05-04 00:00:00' AS TIMESTAMP)
        AND `__ts` < CAST('2026-05-11 00:00:01' AS TIMESTAMP)
    ) AS ev
    INNER JOIN (
      SELECT
        `unit_id`,
        `t0_us`,
        `arm`
      FROM units
    ) AS u
      ON `ev`.`__unit` = `u`.`unit_id`
  ) AS j
  GROUP BY
    `unit_id`,
    `arm`
), src3 AS (
  SELECT
    `unit_id`,
    `arm`,
    AVG(`v0`) FILTER(WHERE
      `__rel` >= -3162240000000000 AND `__rel` < 0) AS `a6`
  FROM (
    SELECT
      `u`.`unit_id`,
      `u`.`arm`,
      `u`.`t0_us`,
      UNIX_MICROS(`ev`.`__ts`) - `u`.`t0_us` AS `__rel`,
      `ev`.`__ts`,
      `ev`.`v0`
    FROM (
      SELECT
        *
      FROM (
        SELECT
          `s`.`user_id` AS `__unit`,
          `s`.`predicted_at` AS `__ts`,
          `predicted_revenue` AS `v0`
        FROM `predictions` AS `s`
      ) AS r
      WHERE
        `__ts` >= CAST('1926-02-18 00:00:00' AS TIMESTAMP)
        AND `__ts` < CAST('2026-05-11 00:00:00' AS TIMESTAMP)
    ) AS ev
    INNER JOIN (
      SELECT
        `unit_id`,
        `t0_us`,
        `arm`
      FROM units
    ) AS u
      ON `ev`.`__unit` = `u`.`unit_id`
  ) AS j
  GROUP BY
    `unit_id`,
    `arm`
), per_unit AS (
  SELECT
    `u`.`unit_id`,
    `u`.`variant`,
    CAST(COALESCE(`src0`.`a0`, 0) AS DOUBLE) AS `a0`,
    COALESCE(`src0`.`a0__nulls`, 0) AS `a0__nulls`,
    CAST(COALESCE(`src0`.`a1`, 0) AS DOUBLE) AS `a1`,
    CAST(COALESCE(`src1`.`a2`, 0) AS DOUBLE) AS `a2`,
    CAST(`src2`.`a3` AS DOUBLE) AS `a3`,
    CAST(`src2`.`a4` AS DOUBLE) AS `a4`,
    CAST(`src2`.`a5` AS DOUBLE) AS `a5`,
    CAST(`src3`.`a6` AS DOUBLE) AS `a6`,
    CAST(COALESCE(`src0`.`a7`, 0) AS DOUBLE) AS `a7`
  FROM units AS `u`
  LEFT JOIN src0 AS `src0`
    ON `src0`.`unit_id` = `u`.`unit_id`
  LEFT JOIN src1 AS `src1`
    ON `src1`.`unit_id` = `u`.`unit_id`
  LEFT JOIN src2 AS `src2`
    ON `src2`.`unit_id` = `u`.`unit_id`
  LEFT JOIN src3 AS `src3`
    ON `src3`.`unit_id` = `u`.`unit_id`
)
SELECT
  `variant`,
  COUNT(*) AS `m0__n`,
  SUM(`a0`) AS `m0__s__y`,
  SUM(`a1`) AS `m0__s__x`,
  SUM(`a2`) AS `m0__s__z0`,
  SUM(COALESCE(`a3`, 0)) AS `m0__s__z1`,
  SUM(COALESCE(`a4`, 0)) AS `m0__s__z2`,
  SUM(COALESCE(`a5`, 0)) AS `m0__s__z3`,
  SUM(COALESCE(`a6`, 0)) AS `m0__s__z4`,
  SUM(`a1` * `a1`) AS `m0__ss__x__x`,
  SUM(`a1` * `a0`) AS `m0__ss__x__y`,
  SUM(`a1` * `a2`) AS `m0__ss__x__z0`,
  SUM(`a1` * (
    COALESCE(`a3`, 0)
  )) AS `m0__ss__x__z1`,
  SUM(`a1` * (
    COALESCE(`a4`, 0)
  )) AS `m0__ss__x__z2`,
  SUM(`a1` * (
    COALESCE(`a5`, 0)
  )) AS `m0__ss__x__z3`,
  SUM(`a1` * (
    COALESCE(`a6`, 0)
  )) AS `m0__ss__x__z4`,
  SUM(`a0` * `a0`) AS `m0__ss__y__y`,
  SUM(`a0` * `a2`) AS `m0__ss__y__z0`,
  SUM(`a0` * (
    COALESCE(`a3`, 0)
  )) AS `m0__ss__y__z1`,
  SUM(`a0` * (
    COALESCE(`a4`, 0)
  )) AS `m0__ss__y__z2`,
  SUM(`a0` * (
    COALESCE(`a5`, 0)
  )) AS `m0__ss__y__z3`,
  SUM(`a0` * (
    COALESCE(`a6`, 0)
  )) AS `m0__ss__y__z4`,
  SUM(`a2` * `a2`) AS `m0__ss__z0__z0`,
  SUM(`a2` * (
    COALESCE(`a3`, 0)
  )) AS `m0__ss__z0__z1`,
  SUM(`a2` * (
    COALESCE(`a4`, 0)
  )) AS `m0__ss__z0__z2`,
  SUM(`a2` * (
    COALESCE(`a5`, 0)
  )) AS `m0__ss__z0__z3`,
  SUM(`a2` * (
    COALESCE(`a6`, 0)
  )) AS `m0__ss__z0__z4`,
  SUM((
    COALESCE(`a3`, 0)
  ) * (
    COALESCE(`a3`, 0)
  )) AS `m0__ss__z1__z1`,
  SUM((
    COALESCE(`a3`, 0)
  ) * (
    COALESCE(`a4`, 0)
  )) AS `m0__ss__z1__z2`,
  SUM((
    COALESCE(`a3`, 0)
  ) * (
    COALESCE(`a5`, 0)
  )) AS `m0__ss__z1__z3`,
  SUM((
    COALESCE(`a3`, 0)
  ) * (
    COALESCE(`a6`, 0)
  )) AS `m0__ss__z1__z4`,
  SUM((
    COALESCE(`a4`, 0)
  ) * (
    COALESCE(`a4`, 0)
  )) AS `m0__ss__z2__z2`,
  SUM((
    COALESCE(`a4`, 0)
  ) * (
    COALESCE(`a5`, 0)
  )) AS `m0__ss__z2__z3`,
  SUM((
    COALESCE(`a4`, 0)
  ) * (
    COALESCE(`a6`, 0)
  )) AS `m0__ss__z2__z4`,
  SUM((
    COALESCE(`a5`, 0)
  ) * (
    COALESCE(`a5`, 0)
  )) AS `m0__ss__z3__z3`,
  SUM((
    COALESCE(`a5`, 0)
  ) * (
    COALESCE(`a6`, 0)
  )) AS `m0__ss__z3__z4`,
  SUM((
    COALESCE(`a6`, 0)
  ) * (
    COALESCE(`a6`, 0)
  )) AS `m0__ss__z4__z4`,
  COUNT(*) AS `m1__n`,
  SUM(`a7`) AS `m1__s__y`,
  SUM(COALESCE(`a6`, 0)) AS `m1__s__z0`,
  SUM(`a7` * `a7`) AS `m1__ss__y__y`,
  SUM(`a7` * (
    COALESCE(`a6`, 0)
  )) AS `m1__ss__y__z0`,
  SUM((
    COALESCE(`a6`, 0)
  ) * (
    COALESCE(`a6`, 0)
  )) AS `m1__ss__z0__z0`,
  SUM(`a0__nulls`) AS `a0__nulls`
FROM per_unit
GROUP BY
  `variant`
ORDER BY
  `variant`;
