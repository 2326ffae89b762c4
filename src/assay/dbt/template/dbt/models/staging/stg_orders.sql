-- One row per order as the shop recorded it; refunds are part of the order row.
select
    order_id,
    user_id,
    created_at as ordered_at,
    amount,
    refunded,
    refund_amount,
    status
from {{ source('shop', 'orders') }}
