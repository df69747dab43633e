"""`make demo`: the whole story on one screen, with nothing to install but the project.

A sandbox store with generated data is started over HTTPS, a config is written for it, the ledger is
created, the first (full) sync runs, the points status is shown; then shoppers and admins act in the
store (a new order, a partial refund, a cancellation, a product review and a blog comment approved)
and an incremental sync brings everything up to date again. It ends with the four reports, an
HTML export and how to open the dashboard.
Every step is the real command an owner would run, printed before it runs.

Everything is kept under `.demo/` (database, config); the store lives only while the demo runs.
"""

from __future__ import annotations

import secrets
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from ledger.balances import list_balances
from ledger.customers import get_or_create_store
from ledger.session import create_engine_for, session_scope
from loyalty.cli import main as loyalty
from loyalty.config import load_config
from sandbox.generator import generate_store
from sandbox.server import SandboxServer
from sandbox.store import SandboxStore

DEMO_DIR = Path(".demo")
SEED = 42


def run(argv: Sequence[str], config: Path) -> None:
    """Print and run one `loyalty` command; stop the demo if it fails."""
    shown = " ".join(["loyalty", "--config", str(config), *argv])
    print(f"\n$ {shown}", flush=True)
    code = loyalty(["--config", str(config), *argv])
    if code != 0:
        raise SystemExit(f"demo stopped: `{shown}` exited {code}")


def heading(text: str) -> None:
    print(f"\n{'=' * 78}\n{text}\n{'=' * 78}", flush=True)


def write_config(server: SandboxServer, path: Path, database: Path) -> None:
    """The demo's config, beside the sandbox's CA certificate copied into the same folder: the
    sandbox removes its own when it stops, and the config must stay valid for the commands the
    demo suggests afterwards (`balances`, `dashboard`, `report html`)."""
    credentials = server.credentials()
    ca_bundle = path.with_name("sandbox-ca.pem")
    shutil.copyfile(credentials["ca_bundle"], ca_bundle)
    path.write_text(
        "# Written by `make demo` for its sandbox store; see config.example.toml for every key.\n"
        "[store]\n"
        f'url = "{server.base_url}"\n'
        f'consumer_key = "{credentials["consumer_key"]}"\n'
        f'consumer_secret = "{credentials["consumer_secret"]}"\n'
        f'verify_tls = "{ca_bundle.resolve()}"\n'
        "max_requests_per_second = 50  # a local store; real hosts want the default 5\n"
        "\n# Blog comments are read with a WordPress Application Password (Users -> Profile).\n"
        "[wordpress]\n"
        f'username = "{credentials["wp_username"]}"\n'
        f'app_password = "{credentials["wp_app_password"]}"\n'
        "\n[rules.review]\nenabled = true\npoints = 10\n"
        "\n[rules.comment]\nenabled = true\npoints = 5\n"
        "\n[database]\n"
        f'url = "sqlite:///{database.resolve()}"\n'
    )


def store_activity(store: SandboxStore) -> list[str]:
    """What happens in the shop between two syncs; returns a line per event."""
    customers = [c for c in store.all("customers") if c["id"] > 1]
    products = store.all("products")
    buyer = customers[0]
    events = []
    placed = store.place_order(
        customer_id=buyer["id"],
        items=[(products[0]["id"], 2), (products[1]["id"], 1)],
        status="processing",
    )
    store.set_order_status(placed["id"], "completed")
    events.append(
        f"customer {buyer['id']} ({buyer['email']}) bought order {placed['id']}, "
        f"total {placed['total']}, now completed"
    )
    completed = [o for o in store.all("orders") if o["status"] == "completed" and not o["refunds"]]
    refunded = completed[0]
    line = refunded["line_items"][0]
    store.refund_order(refunded["id"], lines=[(line["id"], 1)], reason="damaged in transit")
    events.append(f"order {refunded['id']}: one '{line['name']}' refunded")
    cancelled = completed[1]
    store.set_order_status(cancelled["id"], "cancelled")
    events.append(f"order {cancelled['id']} cancelled by the shop")
    registered = {c["email"] for c in store.all("customers")}
    guest_email = next(
        o["billing"]["email"]
        for o in completed
        if not o["customer_id"] and o["billing"]["email"] not in registered
    )
    account = store.register_customer(email=guest_email)
    events.append(
        f"guest {guest_email} registered an account (customer {account['id']}): "
        "the points earned as a guest should follow"
    )
    reviewer, commenter = customers[1], customers[2]
    reviewed = {
        r["product_id"] for r in store.all("reviews") if r["reviewer_email"] == reviewer["email"]
    }
    product = next(p for p in products if p["id"] not in reviewed)
    review = store.add_review(
        product_id=product["id"],
        email=reviewer["email"],
        name=reviewer["first_name"] or "Reviewer",
        rating=5,
        text="Exactly as described, and it arrived early.",
    )
    store.set_review_status(review["id"], "approved")
    events.append(
        f"customer {reviewer['id']} reviewed '{product['name']}' (review {review['id']}); the shop"
        " approved it: [rules.review] gives 10 points"
    )
    commented = {
        c["post"] for c in store.all("comments") if c["author_email"] == commenter["email"]
    }
    post = next(p for p in store.post_ids() if p not in commented)
    comment = store.add_comment(
        post_id=post,
        email=commenter["email"],
        name=commenter["first_name"] or "Reader",
        text="Great tips, thank you!",
        author=commenter["id"],
    )
    store.set_comment_status(comment["id"], "approved")
    events.append(
        f"customer {commenter['id']} commented on blog post {post} (comment {comment['id']}); the"
        " shop approved it: [rules.comment] gives 5 points"
    )
    return events


def meta_matches(store: SandboxStore, config_path: Path) -> str:
    config = load_config(config_path)
    engine = create_engine_for(config.database.url)
    with session_scope(engine, readonly=True) as session:
        store_id = get_or_create_store(session, config.require_store().key).id
        ledger = {
            r.customer_id: r.balance for r in list_balances(session, store_id) if r.customer_id
        }
    engine.dispose()
    key = config.points.balance_meta_key
    in_store = {}
    for customer in store.all("customers"):
        values = [m["value"] for m in customer["meta_data"] if m["key"] == key]
        if values:
            in_store[customer["id"]] = int(values[0])
    wrong = {cid for cid, points in ledger.items() if points and in_store.get(cid) != points}
    if wrong:
        return f"MISMATCH: customer meta differs from the ledger for {sorted(wrong)}"
    return f"customer meta `{key}` in the store matches the ledger for all {len(in_store)} accounts"


def main() -> int:
    if DEMO_DIR.exists():
        shutil.rmtree(DEMO_DIR)
    DEMO_DIR.mkdir()
    config_path = DEMO_DIR / "loyalty.toml"

    heading("1. A sandbox WooCommerce store with generated data")
    store = generate_store(seed=SEED)
    print(
        f"Generated (seed {SEED}): {store.count('customers')} registered customers, "
        f"{store.count('products')} products, {store.count('orders')} orders over 18 months, "
        f"{store.count('refunds')} refunds."
    )
    server = SandboxServer(
        store,
        consumer_key="ck_" + secrets.token_hex(20),
        consumer_secret="cs_" + secrets.token_hex(20),
        wp_username="shop-editor",
        wp_app_password=" ".join(secrets.token_hex(2) for _ in range(6)),
        tls=True,
    )
    server.start()
    try:
        write_config(server, config_path, DEMO_DIR / "loyalty.db")
        print(
            f"Serving the WooCommerce REST API at {server.base_url} (HTTPS, certificate generated "
            f"at start). Config written to {config_path}."
        )
        run(["check"], config_path)

        heading("2. Create the ledger and run the first sync")
        run(["db", "upgrade"], config_path)
        run(["sync"], config_path)
        print(f"\n{meta_matches(store, config_path)}")
        run(["report", "status", "--by", "month"], config_path)

        heading("3. A second sync with nothing changed: nothing appended, nothing written")
        run(["sync"], config_path)

        heading("4. Life in the shop, then an incremental sync")
        for event in store_activity(store):
            print(f"  - {event}")
        run(["sync"], config_path)
        print(f"\n{meta_matches(store, config_path)}")
        run(["verify"], config_path)

        print("\nThe review and the comment, in the ledger:")
        run(["report", "history", "--limit", "4"], config_path)

        heading("5. The four reports, a file to share, and the dashboard")
        run(["report", "status", "--by", "month"], config_path)
        run(["report", "sources", "--limit", "5"], config_path)
        run(["report", "top", "--limit", "5"], config_path)
        run(["report", "history", "--limit", "8"], config_path)
        export = (DEMO_DIR / "report.html").resolve()
        run(["report", "html", "--out", str(export), "--lang", "en"], config_path)
        print(
            f"\nThe HTML report: {export} (self-contained: open it in any browser, offline)."
            f"\nThe dashboard: `loyalty --config {config_path} dashboard`, then open"
            " http://127.0.0.1:8788/ (add ?lang=fr, de, ar or id; set [dashboard] admin_token"
            " for admin actions)."
            "\nAll balances: `loyalty --config .demo/loyalty.toml balances` (the store is gone "
            "once the demo ends; the ledger stays in .demo/loyalty.db)."
        )
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
