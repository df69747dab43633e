"""The sandbox store: a local WooCommerce-compatible shop for tests, the demo and owners' dry runs.

The data: `store` (a `SandboxStore`, assembled from the `store_*` mixins, one per resource) whose
objects are built by the `resources_*` modules, and `generator` (`generate_store`). Serving it:
`server` (`SandboxServer`: lifecycle, HTTP, faults) with `rest_api` and the `rest_*` modules
(wc/v3 and wp/v2), `control_api` (`/sandbox/...`), `listing` and `listed_collections` (paging and
filters), `auth`, `faults`, `tls`. `cli` is `loyalty sandbox` / `python -m sandbox`.
"""
