"""`loyalty sandbox` (and `python -m sandbox`): run the sandbox store until stopped.

For shop owners trying rules before pointing the engine at production, and for the demo. It
generates (or loads) a store, serves it, prints the base URL, the credentials and a ready-to-paste
`[store]` config snippet, and serves until Ctrl-C or SIGTERM; with `--state FILE` the store is
loaded from FILE when it exists and saved back on exit, so a dry run can continue another day.
"""

from __future__ import annotations

import argparse
import gc
import ipaddress
import secrets
import signal
import string
import sys
import threading
from pathlib import Path
from types import FrameType

from sandbox.faults import FaultConfig, FaultSpecError
from sandbox.generator import generate_store
from sandbox.server import SandboxServer
from sandbox.store import SandboxStore

MAX_CLOCK_SKEW = 366 * 86400

_EPILOG = """\
examples:
  loyalty sandbox                           a 50-customer shop on http://127.0.0.1:8787
  loyalty sandbox --seed 7 --orders 2000    a bigger shop, same data for the same seed
  loyalty sandbox --state shop.json         keep the shop between runs
  loyalty sandbox --faults "5xx=0.1,429=0.05,drop=0.02" --latency-ms 200
                                            a flaky, slow host (faults: 5xx, 429, drop,
                                            malformed, slow, dup, hostile, ignore_exclude,
                                            repeat_page; settings retry_after, slow_ms, hostile_body)
  loyalty sandbox --faults "hostile=1,hostile_body=maintenance"
                                            answers no WooCommerce gives (hostile_body: any,
                                            maintenance, nested, object, html, huge, redirect)
  loyalty sandbox --clock-skew -900         a shop server whose clock is 15 minutes behind
  loyalty sandbox --tls                     HTTPS with a generated certificate (its CA file is
                                            printed: give it to the client as verify_tls)

Control API (no authentication; keep it on loopback): GET <url>/sandbox lists the routes for
placing orders, refunds, reviews, comments, faults and the request log.
exit codes: 0 stopped cleanly, 1 unreadable --state file or an address it cannot listen on,
2 bad arguments
"""


def build_parser(prog: str = "loyalty sandbox") -> argparse.ArgumentParser:
    """The command line, with defaults that give a working local store."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run a local WooCommerce-compatible store (wc/v3 and wp/v2) with generated data.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, loopback only)")
    add(
        "--port",
        type=_port,
        metavar="N",
        default=8787,
        help="port to listen on, 0 for any free (default 8787)",
    )
    add(
        "--seed",
        type=int,
        metavar="N",
        default=1,
        help="generator seed: same seed, same shop (default 1)",
    )
    add(
        "--customers",
        type=_count,
        metavar="N",
        default=50,
        help="customers to generate (default 50)",
    )
    add("--orders", type=_count, metavar="N", default=300, help="orders to generate (default 300)")
    add(
        "--reviews",
        type=_count,
        metavar="N",
        default=60,
        help="product reviews to generate (default 60)",
    )
    add(
        "--comments",
        type=_count,
        metavar="N",
        default=40,
        help="blog comments to generate (default 40)",
    )
    add(
        "--latency-ms",
        type=_count,
        metavar="MS",
        default=0,
        help="delay added to every API answer (ms)",
    )
    add("--faults", type=_faults, default=FaultConfig(), metavar="SPEC",
        help='fault rates, e.g. "5xx=0.1,429=0.05,drop=0.02" (default none)')  # fmt: skip
    add(
        "--fault-seed", type=int, metavar="N", default=0, help="seed of the fault draws (default 0)"
    )
    add(
        "--clock-skew",
        type=_skew,
        metavar="SECONDS",
        default=0,
        help="run the shop's clock this far off (negative: behind): its stamps and Date header",
    )
    add(
        "--state",
        type=Path,
        metavar="FILE",
        help="load the shop from FILE if it exists; save on exit",
    )
    add("--consumer-key", metavar="KEY", help="the REST key to accept (default: generated ck_...)")
    add(
        "--consumer-secret",
        metavar="SECRET",
        help="the REST secret to accept (default: generated cs_...)",
    )
    add(
        "--wp-username",
        metavar="USER",
        default="sandbox-admin",
        help="WordPress user (default sandbox-admin)",
    )
    add(
        "--wp-app-password",
        metavar="PASSWORD",
        help="its Application Password (default: generated)",
    )
    add("--tls", action="store_true", help="serve HTTPS with a certificate generated at start")
    return parser


def _port(text: str) -> int:
    value = _integer(text, "port")
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0..65535, got {value}")
    return value


def _count(text: str) -> int:
    value = _integer(text, "value")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, got {value}")
    return value


def _integer(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} must be a whole number, got {text!r}") from None


def _skew(text: str) -> int:
    value = _integer(text, "clock skew")
    if abs(value) > MAX_CLOCK_SKEW:
        raise argparse.ArgumentTypeError(
            f"clock skew must be within ±{MAX_CLOCK_SKEW} seconds (a year), got {value}"
        )
    return value


def _faults(text: str) -> FaultConfig:
    try:
        return FaultConfig.parse(text)
    except FaultSpecError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def generated_key() -> tuple[str, str]:
    """A WooCommerce-style key pair: ck_/cs_ followed by 40 hex digits."""
    return f"ck_{secrets.token_hex(20)}", f"cs_{secrets.token_hex(20)}"


def generated_app_password() -> str:
    """A WordPress Application Password: 24 letters and digits, shown in groups of four."""
    alphabet = string.ascii_letters + string.digits
    raw = "".join(secrets.choice(alphabet) for _ in range(24))
    return " ".join(raw[i : i + 4] for i in range(0, 24, 4))


def main(argv: list[str] | None = None, *, prog: str = "loyalty sandbox") -> int:
    """Run the sandbox until SIGINT/SIGTERM; 0 when stopped cleanly (argparse exits 2 on bad input)."""
    args = build_parser(prog).parse_args(argv)
    store = _load_store(args)
    generated_ck, generated_cs = generated_key()
    ck, cs = args.consumer_key or generated_ck, args.consumer_secret or generated_cs
    server = SandboxServer(
        store,
        host=args.host,
        port=args.port,
        consumer_key=ck,
        consumer_secret=cs,
        wp_username=args.wp_username,
        wp_app_password=args.wp_app_password or generated_app_password(),
        tls=args.tls,
        latency_ms=args.latency_ms,
        faults=args.faults,
        fault_seed=args.fault_seed,
        clock_skew_seconds=args.clock_skew,
    )
    if not _is_loopback(args.host):
        print(f"warning: binding {args.host}: the control API has no authentication and "
              "anyone who can reach this address can change the shop", file=sys.stderr)  # fmt: skip
    stopped = threading.Event()
    _on_signals(stopped)
    try:
        server.start()
    except OSError as error:  # the port is taken, or the address is not this machine's
        raise SystemExit(
            f"cannot listen on {args.host}:{args.port}: {error.strerror or error}"
            " (another sandbox running? --port 0 picks a free one)"
        ) from None
    try:
        gc.freeze()  # the shop's objects live as long as the process: the collector skips them
        print(banner(server, args.faults), flush=True)
        while not stopped.wait(0.5):
            pass
    finally:
        server.stop()
    if args.state is not None:
        args.state.write_text(store.to_json(), encoding="utf-8")
        print(f"saved the shop to {args.state}", flush=True)
    return 0


def _load_store(args: argparse.Namespace) -> SandboxStore:
    state: Path | None = args.state
    if state is not None and state.exists():
        try:
            return SandboxStore.from_json(state.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise SystemExit(f"{state}: cannot load the sandbox state: {error}") from None
    return generate_store(
        seed=args.seed,
        customers=args.customers,
        orders=args.orders,
        reviews=args.reviews,
        comments=args.comments,
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _on_signals(stopped: threading.Event) -> None:
    def stop(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)


def banner(server: SandboxServer, faults: FaultConfig) -> str:
    """What the owner needs: where the shop is, how to log in, and a config snippet to paste."""
    c = server.credentials()
    rows = [
        ("REST API", f"{server.api_url}/wc/v3/"),
        ("control API", f"{c['base_url']}/sandbox"),
        ("consumer key", c["consumer_key"]),
        ("consumer secret", c["consumer_secret"]),
        ("WordPress user", c["wp_username"]),
        ("app password", c["wp_app_password"]),
    ]
    if server.tls:
        rows.append(("CA certificate", c["ca_bundle"]))
    lines = [f"Sandbox store serving at {c['base_url']}  (Ctrl-C to stop)"]
    lines += [f"  {label:<16} {value}" for label, value in rows]
    if faults.enabled:
        lines.append(f"  {'faults':<16} {faults.to_spec()}")
    if server.store.clock_skew:
        skew = round(server.store.clock_skew.total_seconds())
        lines.append(f"  {'clock skew':<16} {skew:+d} s (stamps and Date header)")
    lines += ["", "Paste into loyalty.toml:", "", "[store]", f'url = "{c["base_url"]}"']
    lines += [
        f'consumer_key = "{c["consumer_key"]}"',
        f'consumer_secret = "{c["consumer_secret"]}"',
    ]
    if server.tls:
        lines.append(f'verify_tls = "{c["ca_bundle"]}"')
    else:
        lines.append("allow_insecure_http = true")
    lines += ["", "[wordpress]", f'username = "{c["wp_username"]}"']
    lines.append(f'app_password = "{c["wp_app_password"]}"')
    return "\n".join(lines)
