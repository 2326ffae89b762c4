select
    session_id,
    user_id,
    started_at,
    duration_s,
    pages
from {{ ref('stg_sessions') }}
