r"""The sandbox store: a local WooCommerce-compatible shop for tests, the demo and owners' dry runs.

Layout: one module per WooCommerce resource, over shared layers.
- `resources/` — `customers`, `products`, `coupons`, `orders` (+ `order_shapes`), `refunds`,
  `reviews`, `comments`: each holds the resource's shape (the JSON builders), its state (a store
  mixin with WooCommerce's write semantics), its listing (`Collection`), its REST and control
  routes, and declares a `Resource`. The resources a shop derives from those and from its
  settings keep no rows and are built when asked, paged by `short_lists`: `product_categories`,
  `product_tags`, `product_attributes` (+ terms), `product_variations`, `shipping_classes`,
  `order_notes`, `payment_gateways`, `shipping_zones` (+ locations, methods),
  `shipping_methods`, `taxes`, `tax_classes`, `system_status` (+ tools).
- `routes` — the routing table: the list of those `Resource`s, one line each.
- shared layers: `server` (`SandboxServer`: lifecycle, sockets, latency, faults applied),
  `messages` (requests, responses, JSON), `auth` and `tls`, `rest` (wc/v3 and wp/v2 dispatch,
  permissions, generic list/get/create/update/delete handlers, `_links`), `control` (`/sandbox`),
  `listing` and `arguments` (paging, filters, sort orders, query validation), `indexes` (the
  sorted indexes every listing is cut from, kept up to date on each write), `faults`,
  `request_log`, `state` (`StoreBase`: tables, clock, ids, generic reads), `store`
  (`SandboxStore`: the mixins assembled, persistence), `errors`, `formats`, `meta`, `batch`,
  `bulk` (building many objects without the garbage collector rescanning them).
- `generator` (`generate_store`) and `cli` (`loyalty sandbox` / `python -m sandbox`).
Imports point one way: `routes` -> `resources.*` -> shared layers; `server` -> `rest`, `control`,
`routes`; nothing imports `server` back (tests/sandbox/test_layout.py checks there is no cycle).

Adding a resource, e.g. `webhooks` (one new file, one line of routing):
1. `sandbox/resources/webhooks.py`: the builder of one object (keys, key order and JSON
   types of WooCommerce's schema), `COLLECTION = Collection("webhooks", {...params},
   {...sort keys}, filters)` from `sandbox.listing`, `SERVED = Served("webhooks",
   wc_links("webhooks"), COLLECTION)` and
       RESOURCE = Resource(
           "webhooks",
           ("woocommerce_rest_webhook_invalid_id", "Invalid ID."),
           listings=(COLLECTION,),   # its sorted indexes are built when the server starts
           rest=(Route("GET", "/wc/v3/webhooks", lambda api, c: api.serve_list(c, SERVED)),
                 Route("GET", r"/wc/v3/webhooks/(\d+)", lambda api, c: api.get(c, SERVED))),
           populate=add_webhooks,   # optional: rows of a freshly generated store
       )
   Rows live in the store's table of that name (`store.put(name, obj)` in `populate`); writes,
   if the resource has any, are functions of the module that take the store and hold its lock.
2. `sandbox/routes.py`: add `webhooks.RESOURCE` to `RESOURCES`.
The store gets the table, the server the routes, the generator the rows; tests/sandbox/
test_layout.py checks that every module of `resources/` is routed.
"""
