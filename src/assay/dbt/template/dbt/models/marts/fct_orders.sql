-- The order fact table: the board's revenue and the experiments' revenue both read it.
select
    order_id,
    user_id,
    ordered_at,
    amount,
    refunded as is_refunded,
    refund_amount,
    amount - coalesce(refund_amount, 0) as net_amount,
    status
from {{ ref('stg_orders') }}
