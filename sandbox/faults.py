"""Seeded fault injection for the sandbox store: the failures real hosts produce, reproducibly.

For the sync's tests and for owners' dry runs. A `FaultConfig` says how often each fault happens;
a `FaultInjector` draws one decision per API request from `random.Random(seed)`, in request order,
so the same sequence of requests sees the same faults. The server applies the decision (it owns the
socket); this module only decides and shapes the bodies.

Faults (spec keys in brackets, as in `--faults "5xx=0.1,429=0.05,drop=0.02"`):
- [5xx] a 500 (WordPress critical error JSON), 502 or 503 (proxy HTML page);
- [429] Too Many Requests with `Retry-After` (spec key `retry_after`, seconds, default 1);
- [drop] the connection closes after part of the body was sent;
- [malformed] a 200 whose JSON is truncated or preceded by a PHP warning;
- [slow] the answer is delayed by `slow_ms` (default 1500) milliseconds;
- [dup] on an order listing, an item of the served page is modified right after, so it comes
  again on a later page of a `orderby=modified&order=asc` walk;
- [hostile] an answer no WooCommerce gives, chosen by `hostile_body` (default `any`: one drawn per
  request): `maintenance` (200 with a WooCommerce error body), `nested` (JSON 100,000 levels
  deep), `object` (an object where a list belongs), `html` (a 200 HTML page), `huge` (a 50 MB
  JSON array) or `redirect` (301 to another host);
- [ignore_exclude] a listing ignores its `exclude` parameter (a plugin rewriting the query);
- [repeat_page] a listing answers with the last page it served, whatever the query asked (a
  caching proxy that ignores every filter and page number). At rate 1 every listing after its
  first answer repeats that answer.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, fields
from typing import Any

# The order of the cumulative draw; changing it changes which request gets which fault for a seed.
FAULT_KINDS = (
    "5xx",
    "429",
    "drop",
    "malformed",
    "slow",
    "dup",
    "hostile",
    "ignore_exclude",
    "repeat_page",
)
_RATE_FIELDS = {
    "5xx": "rate_5xx",
    "429": "rate_429",
    "drop": "rate_drop",
    "malformed": "rate_malformed",
    "slow": "rate_slow",
    "dup": "rate_duplicate",
    "hostile": "rate_hostile",
    "ignore_exclude": "rate_ignore_exclude",
    "repeat_page": "rate_repeat_page",
}
_INT_FIELDS = {"retry_after": "retry_after_seconds", "slow_ms": "slow_ms"}
HOSTILE_BODIES = ("maintenance", "nested", "object", "html", "huge", "redirect")

_WP_CRITICAL_ERROR = (
    b'{"code":"internal_server_error","message":"<p>There has been a critical error on this '
    b'website.<\\/p><p><a href=\\"https:\\/\\/wordpress.org\\/documentation\\/article\\/'
    b'faq-troubleshooting\\/\\">Learn more about troubleshooting WordPress.<\\/a><\\/p>",'
    b'"data":{"status":500},"additional_errors":[]}'
)
_PROXY_PAGE = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
_PHP_WARNING = (
    b'<br />\n<b>Warning</b>:  Undefined array key "loyalty" in '
    b"<b>/var/www/html/wp-content/plugins/some-plugin/some-plugin.php</b> on line <b>42</b><br />\n"
)


class FaultSpecError(ValueError):
    """A fault spec or setting is wrong; the message names the key and what was expected."""


@dataclass(frozen=True)
class FaultConfig:
    """How often each fault happens, as probabilities per API request (they add up to at most 1)."""

    rate_5xx: float = 0.0
    rate_429: float = 0.0
    retry_after_seconds: int = 1
    rate_drop: float = 0.0
    rate_malformed: float = 0.0
    rate_slow: float = 0.0
    slow_ms: int = 1500
    rate_duplicate: float = 0.0
    rate_hostile: float = 0.0
    hostile_body: str = "any"
    rate_ignore_exclude: float = 0.0
    rate_repeat_page: float = 0.0

    def __post_init__(self) -> None:
        if self.hostile_body not in ("any", *HOSTILE_BODIES):
            raise FaultSpecError(
                f"fault setting 'hostile_body' must be any or one of {', '.join(HOSTILE_BODIES)},"
                f" got {self.hostile_body!r}"
            )
        for key, name in _RATE_FIELDS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise FaultSpecError(
                    f"fault rate '{key}' must be a number from 0 to 1, got {value!r}"
                )
        for key, name in _INT_FIELDS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise FaultSpecError(
                    f"fault setting '{key}' must be a whole number >= 0, got {value!r}"
                )
        if self.total_rate > 1 + 1e-9:
            raise FaultSpecError(
                f"the fault rates add up to {self.total_rate:g}; at most 1 is possible"
            )

    @property
    def total_rate(self) -> float:
        return sum(self.rates().values())

    @property
    def enabled(self) -> bool:
        return self.total_rate > 0

    def rates(self) -> dict[str, float]:
        """The rate of each fault kind that is on, by spec key, in draw order."""
        rates = {key: float(getattr(self, _RATE_FIELDS[key])) for key in FAULT_KINDS}
        return {key: rate for key, rate in rates.items() if rate}

    @classmethod
    def parse(cls, spec: str) -> FaultConfig:
        """Read `"5xx=0.1,429=0.05,retry_after=2,drop=0.02"`; an empty spec means no faults."""
        values: dict[str, Any] = {}
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            key, sep, raw = part.partition("=")
            key, raw = key.strip(), raw.strip()
            if not sep:
                raise FaultSpecError(f"fault spec item {part!r} needs the form key=value")
            values[key] = raw
        return cls.from_mapping(values)

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> FaultConfig:
        """Build from spec keys (`5xx`, `429`, `drop`, ..., `retry_after`, `slow_ms`) or field names."""
        by_key = {**_RATE_FIELDS, **_INT_FIELDS, **{f.name: f.name for f in fields(cls)}}
        kwargs: dict[str, Any] = {}
        for key, raw in values.items():
            name = by_key.get(str(key))
            if name is None:
                known = ", ".join([*FAULT_KINDS, *_INT_FIELDS, "hostile_body"])
                raise FaultSpecError(f"unknown fault {key!r} (known: {known})")
            kwargs[name] = _convert(str(key), name, raw)
        return cls(**kwargs)

    def to_spec(self) -> str:
        """The spec string that parses back to this config (non-zero rates and the settings)."""
        parts = [f"{key}={rate:g}" for key, rate in self.rates().items() if rate]
        parts += [f"retry_after={self.retry_after_seconds}", f"slow_ms={self.slow_ms}"]
        if self.rate_hostile:
            parts.append(f"hostile_body={self.hostile_body}")
        return ",".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _convert(key: str, name: str, raw: Any) -> float | int | str:
    if name == "hostile_body":
        return str(raw).strip()
    is_int = name in _INT_FIELDS.values()
    try:
        if isinstance(raw, str):
            return int(raw) if is_int else float(raw)
    except ValueError:
        expected = "a whole number" if is_int else "a number from 0 to 1"
        raise FaultSpecError(f"fault {key!r} must be {expected}, got {raw!r}") from None
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return raw
    raise FaultSpecError(f"fault {key!r} must be a number, got {raw!r}")


@dataclass(frozen=True)
class FaultDecision:
    """What happens to one API request. `kind` None means it is served normally.

    `status` is the 5xx code chosen; `fraction` (0..1) places the cut of a dropped or truncated
    body, picks the malformation and the page item a `dup` fault modifies.
    """

    kind: str | None = None
    status: int | None = None
    fraction: float = 0.0


NO_FAULT = FaultDecision()


class FaultInjector:
    """Draws a `FaultDecision` per request from a seeded generator; thread-safe and reconfigurable."""

    def __init__(self, config: FaultConfig | None = None, *, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._config = config or FaultConfig()
        self._seed = seed
        self._rng = random.Random(seed)

    @property
    def config(self) -> FaultConfig:
        return self._config

    @property
    def seed(self) -> int:
        return self._seed

    def configure(self, config: FaultConfig, *, seed: int | None = None) -> None:
        """Switch to new rates; with a seed, restart the draw sequence from it."""
        with self._lock:
            self._config = config
            if seed is not None:
                self._seed = seed
                self._rng = random.Random(seed)

    def decide(self, config: FaultConfig | None = None) -> FaultDecision:
        """The decision for the next request (under `config` instead of the configured rates, if
        given). Always two draws, so sequences stay aligned."""
        with self._lock:
            u, v = self._rng.random(), self._rng.random()
            config = config or self._config
        return decision_for(config, u, v)


def decision_for(config: FaultConfig, u: float, v: float) -> FaultDecision:
    """Map two uniform draws to a decision: `u` picks the fault kind, `v` its details."""
    edge = 0.0
    for kind, rate in config.rates().items():
        edge += rate
        if u < edge:
            status = (500, 502, 503)[min(int(v * 3), 2)] if kind == "5xx" else None
            return FaultDecision(kind=kind, status=status, fraction=v)
    return NO_FAULT


def error_response(
    decision: FaultDecision, config: FaultConfig
) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of a 5xx or 429 fault, shaped like WordPress or a proxy sends them."""
    if decision.kind == "429":
        headers = {"Content-Type": "text/html", "Retry-After": str(config.retry_after_seconds)}
        return 429, headers, _PROXY_PAGE.format(status=429, reason="Too Many Requests").encode()
    status = decision.status or 500
    if status == 500:
        return 500, {"Content-Type": "application/json; charset=UTF-8"}, _WP_CRITICAL_ERROR
    reason = "Bad Gateway" if status == 502 else "Service Temporarily Unavailable"
    return (
        status,
        {"Content-Type": "text/html"},
        _PROXY_PAGE.format(status=status, reason=reason).encode(),
    )


def malformed_body(body: bytes, decision: FaultDecision) -> bytes:
    """A broken version of a JSON body: truncated (first half of `fraction`) or PHP-warning-prefixed."""
    if decision.fraction < 0.5:
        cut = max(1, int(len(body) * (0.05 + 1.8 * decision.fraction)))
        return body[: min(cut, len(body) - 1)] if len(body) > 1 else b"{"
    return _PHP_WARNING + body


def without_exclude(params: dict[str, Any], decision: FaultDecision) -> dict[str, Any]:
    """A listing's parameters as an `ignore_exclude` fault sees them: `exclude` dropped."""
    if decision.kind != "ignore_exclude":
        return params
    return {k: v for k, v in params.items() if k != "exclude"}


def drop_point(body: bytes, decision: FaultDecision) -> int:
    """How many body bytes are sent before a `drop` fault closes the connection (never all)."""
    if len(body) <= 1:
        return 0
    return min(len(body) - 1, int(len(body) * decision.fraction))


_MAINTENANCE = (
    b'{"code":"rest_maintenance","message":"Briefly unavailable for scheduled maintenance. Check'
    b' back in a minute.","data":{"status":503}}'
)
_HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>Maintenance</title></head><body><h1>We'll be back soon"
    b"</h1><p>The shop is being updated.</p></body></html>"
)
_HUGE_ITEM = b'{"id":1,"status":"completed","total":"10.00"},'


def hostile_response(
    decision: FaultDecision, config: FaultConfig, path: str
) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of a `hostile` fault (see the module docstring)."""
    body = config.hostile_body
    if body == "any":
        body = HOSTILE_BODIES[min(int(decision.fraction * len(HOSTILE_BODIES)), 5)]
    json_type = {"Content-Type": "application/json; charset=UTF-8"}
    if body == "maintenance":
        return 200, json_type, _MAINTENANCE
    if body == "nested":
        return 200, json_type, b"[" * 100_000 + b"]" * 100_000
    if body == "object":
        return 200, json_type, b'{"id":1,"items":[]}'
    if body == "html":
        return 200, {"Content-Type": "text/html; charset=UTF-8"}, _HTML_PAGE
    if body == "huge":
        count = 50 * 2**20 // len(_HUGE_ITEM)
        return 200, json_type, b"[" + _HUGE_ITEM * count + b'{"id":1}]'
    return 301, {"Location": f"http://elsewhere.invalid{path}"}, b""
