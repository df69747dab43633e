"""Sample payloads the tests compare against (see README.md)."""

from pathlib import Path

WOOCOMMERCE_SAMPLES = Path(__file__).resolve().parent / "woocommerce"
