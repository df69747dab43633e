"""`/wc/v3/system_status` and `/wc/v3/system_status/tools[/{id}]`: the shop's health report.

Routed by `sandbox.routes` (its `RESOURCE`). Clients call these to check a connection (Airbyte's
`check` lists the tools). The report describes the sandbox as a WooCommerce 9.4 shop on a small
PHP host; its counts are the store's own. Running a tool (PUT) does nothing and says it worked.
"""

from __future__ import annotations

from typing import Any

from sandbox.arguments import validate
from sandbox.errors import SandboxError
from sandbox.messages import Response
from sandbox.resource import Resource
from sandbox.resources.order_shapes import CURRENCY, CURRENCY_SYMBOL, WC_VERSION
from sandbox.rest import ITEM_ARGS, Call, RestApi, Route, require
from sandbox.short_lists import links, serve_all

Json = dict[str, Any]
_NO_TOOL = SandboxError("woocommerce_rest_system_status_tool_invalid_id", "Invalid tool ID.", 404)
TOOLS = (
    ("clear_transients", "WooCommerce transients", "Clear transients",
     "This tool will clear the product/shop transients cache."),
    ("clear_expired_transients", "Expired transients", "Clear transients",
     "This tool will clear ALL expired transients from WordPress."),
    ("delete_orphaned_variations", "Orphaned variations", "Delete orphaned variations",
     "This tool will delete all variations which have no parent."),
    ("clear_expired_download_permissions", "Used-up download permissions",
     "Clean up download permissions",
     "This tool will delete expired download permissions and permissions with 0 remaining downloads."),
    ("regenerate_product_lookup_tables", "Product lookup tables", "Regenerate",
     "This tool will regenerate product lookup table data."),
    ("recount_terms", "Term counts", "Recount terms",
     "This tool will recount product terms - useful when changing your settings in a way which "
     "hides products from the catalog."),
    ("reset_roles", "Capabilities", "Reset capabilities",
     "This tool will reset the admin, customer and shop_manager roles to default."),
    ("clear_sessions", "Clear customer sessions", "Clear",
     "This tool will delete all customer session data from the database, including current carts "
     "and saved carts in the database."),
    ("clear_template_cache", "Clear template cache", "Clear",
     "This tool will empty the template cache."),
    ("install_pages", "Create default WooCommerce pages", "Create pages",
     "This tool will install all the missing WooCommerce pages."),
    ("delete_taxes", "Delete WooCommerce tax rates", "Delete tax rates",
     "This option will delete ALL of your tax rates, use with caution."),
    ("db_update_routine", "Update database", "Update database",
     "This tool will update your WooCommerce database to the latest version."),
    ("verify_db_tables", "Verify base database tables", "Verify database",
     "Verify if all base database tables are present."),
)  # fmt: skip


def tools() -> list[Json]:
    return [
        {"id": tool_id, "name": name, "action": action, "description": description}
        for tool_id, name, action, description in TOOLS
    ]


def _present_tool(api: RestApi, tool: Json) -> Json:
    found = links(api, f"system_status/tools/{tool['id']}", "system_status/tools")
    return {**tool, "_links": {"item": found["self"], "collection": found["collection"]}}


def _find_tool(call: Call) -> Json:
    found = [t for t in tools() if t["id"] == str(call.ids[0])]
    if not found:
        raise _NO_TOOL
    return found[0]


def list_tools(api: RestApi, call: Call) -> Response:
    validate(ITEM_ARGS, call.params)
    return serve_all(call, tools(), lambda t: _present_tool(api, t))


def get_tool(api: RestApi, call: Call) -> Response:
    validate(ITEM_ARGS, call.params)
    require(call, "view")
    return Response.json(200, _present_tool(api, _find_tool(call)))


def run_tool(api: RestApi, call: Call) -> Response:
    require(call, "edit")
    tool = _find_tool(call)
    ran = {**tool, "success": True, "message": "Tool ran."}
    return Response.json(200, _present_tool(api, ran))


def status(api: RestApi) -> Json:
    """The system status report (WooCommerce's sections, with this sandbox's facts)."""
    site = api.site.base_url
    counts = {name: api.store.count(name) for name in ("orders", "products", "coupons")}
    return {
        "environment": _environment(site),
        "database": {
            "wc_database_version": WC_VERSION,
            "database_prefix": "wp_",
            "maxmind_geoip_database": "",
            "database_tables": {"woocommerce": {}, "other": {}},
            "database_size": {"data": 1.2, "index": 0.4},
        },
        "active_plugins": [
            {
                "plugin": "woocommerce/woocommerce.php",
                "name": "WooCommerce",
                "version": WC_VERSION,
                "version_latest": WC_VERSION,
                "url": "https://woocommerce.com/",
                "author_name": "Automattic",
                "author_url": "https://woocommerce.com",
                "network_activated": False,
            }
        ],
        "inactive_plugins": [],
        "dropins_mu_plugins": {"dropins": [], "mu_plugins": []},
        "theme": _theme(),
        "settings": _settings(),
        "security": {"secure_connection": site.startswith("https://"), "hide_errors": True},
        "pages": _pages(),
        "post_type_counts": [
            {"type": "shop_order", "count": str(counts["orders"])},
            {"type": "product", "count": str(counts["products"])},
            {"type": "shop_coupon", "count": str(counts["coupons"])},
        ],
        "logging": {
            "logging_enabled": True,
            "default_handler": "Automattic\\WooCommerce\\Internal\\Admin\\Logging\\LogHandlerFileV2",
            "retention_period_days": 30,
            "level_threshold": "none",
            "log_directory_size": "0 B",
        },
    }


def _environment(site: str) -> Json:
    return {
        "home_url": site, "site_url": site, "store_id": "sandbox", "version": WC_VERSION,
        "log_directory": "/var/www/html/wp-content/uploads/wc-logs/",
        "log_directory_writable": True, "wp_version": "6.7.1", "wp_multisite": False,
        "wp_memory_limit": 268435456, "wp_debug_mode": False, "wp_cron": True,
        "language": "en_US", "external_object_cache": None, "server_info": "Apache/2.4",
        "php_version": "8.2.26", "php_post_max_size": 67108864, "php_max_execution_time": 30,
        "php_max_input_vars": 1000, "curl_version": "8.5.0, OpenSSL/3.0.13",
        "suhosin_installed": False, "max_upload_size": 67108864, "mysql_version": "8.0.40",
        "mysql_version_string": "8.0.40", "default_timezone": "UTC",
        "fsockopen_or_curl_enabled": True, "soapclient_enabled": False,
        "domdocument_enabled": True, "gzip_enabled": True, "mbstring_enabled": True,
        "remote_post_successful": True, "remote_post_response": 200,
        "remote_get_successful": True, "remote_get_response": 200,
    }  # fmt: skip


def _theme() -> Json:
    return {
        "name": "Storefront", "version": "4.6.0", "version_latest": "4.6.0",
        "author_url": "https://woocommerce.com/", "is_child_theme": False,
        "is_block_theme": False, "has_woocommerce_support": True,
        "has_woocommerce_file": False, "has_outdated_templates": False, "overrides": [],
        "parent_name": "", "parent_version": "", "parent_version_latest": "",
        "parent_author_url": "",
    }  # fmt: skip


def _settings() -> Json:
    return {
        "api_enabled": True, "force_ssl": False, "currency": CURRENCY,
        "currency_symbol": CURRENCY_SYMBOL, "currency_position": "left",
        "thousand_separator": ",", "decimal_separator": ".", "number_of_decimals": 2,
        "geolocation_enabled": False,
        "taxonomies": {"external": "external", "grouped": "grouped", "simple": "simple",
                       "variable": "variable"},
        "product_visibility_terms": {"exclude-from-catalog": "exclude-from-catalog",
                                     "exclude-from-search": "exclude-from-search",
                                     "featured": "featured", "outofstock": "outofstock"},
        "woocommerce_com_connected": "no", "enforce_approved_download_dirs": True,
        "order_datastore": "Automattic\\WooCommerce\\Internal\\DataStores\\Orders\\OrdersTableDataStore",
        "HPOS_feature_screen_enabled": True, "HPOS_enabled": True, "HPOS_sync_enabled": False,
        "wccom_connected": False,
    }  # fmt: skip


def _pages() -> list[Json]:
    pages = (("Shop base", 5, ""), ("Cart", 6, "woocommerce/cart"),
             ("Checkout", 7, "woocommerce/checkout"), ("My account", 8, ""))  # fmt: skip
    return [
        {
            "page_name": name, "page_id": str(page_id), "page_set": True, "page_exists": True,
            "page_visible": True, "shortcode": "[woocommerce_my_account]" if name == "My account" else "",
            "block": block, "shortcode_required": name == "My account",
            "shortcode_present": name == "My account", "block_present": bool(block),
            "block_required": bool(block),
        }
        for name, page_id, block in pages
    ]  # fmt: skip


def get_status(api: RestApi, call: Call) -> Response:
    validate(ITEM_ARGS, call.params)
    require(call, "list")
    return Response.json(200, status(api))


RESOURCE = Resource(
    "system_status",
    ("woocommerce_rest_system_status_tool_invalid_id", "Invalid tool ID."),
    rest=(
        Route("GET", r"/wc/v3/system_status", get_status),
        Route("GET", r"/wc/v3/system_status/tools", list_tools),
        Route("GET", r"/wc/v3/system_status/tools/([\w-]+)", get_tool),
        Route("POST PUT PATCH", r"/wc/v3/system_status/tools/([\w-]+)", run_tool),
    ),
)
