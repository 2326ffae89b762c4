-- Exposures exactly as logged: assay's trust checks need the duplicates and stray rows.
select
    experiment_id,
    variant,
    unit_id,
    "timestamp",
    country,
    platform
from {{ source('shop', 'exposures') }}
