"""The sandbox store: a local WooCommerce-compatible shop for tests, the demo and owners' dry runs.

`store` and `generator` hold the data (a `SandboxStore`, `generate_store`); `server` serves it
over wc/v3 and wp/v2 with a control API (`SandboxServer`); `auth`, `listing`, `faults` and `tls`
are the server's parts; `cli` is `loyalty sandbox` / `python -m sandbox`.
"""
