"""One module per WooCommerce resource: its shape, its state in the store, and its routes.

`customers`, `products`, `coupons`, `orders` (with `order_shapes`), `refunds`, `reviews`,
`comments`. Each declares a `sandbox.resource.Resource` that `sandbox.routes` lists.
"""
