"""Charts as server-rendered SVG: no script, no external files, allowed by a strict CSP.

Colours are presentation attributes and classes (never `style=` attributes, which a CSP without
'unsafe-inline' blocks). Right-to-left pages get mirrored charts: time runs from right to left and
bars grow from the right, as Arabic readers expect. The SVG itself is laid out left to right
(`direction="ltr"`), so text anchors mean the same on every page and the mirroring is explicit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

PALETTE = {
    "earned": "#2f855a",
    "revoked": "#c05621",
    "redeemed": "#2b6cb0",
    "expired": "#718096",
    "adjusted": "#805ad5",
    "transferred": "#d69e2e",
    "debt": "#e53e3e",
    "written_off": "#a0aec0",
    "pending": "#38b2ac",
}
BAR = "#3182ce"


@dataclass(frozen=True)
class Series:
    key: str  # a PALETTE key
    label: str  # translated legend text
    values: list[int]


def _x(x: float, width: float, w: float, rtl: bool) -> float:
    return width - x - w if rtl else x


def _text(x: float, y: float, text: str, *, anchor: str = "start", cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{klass}>{escape(text)}</text>'


def _flip(anchor: str, rtl: bool) -> str:
    if not rtl or anchor == "middle":
        return anchor
    return "end" if anchor == "start" else "start"


def columns_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    rtl: bool,
    empty: str,
    shown: Callable[[int], str] = str,
) -> Markup:
    """Points over time by kind: per period, positive movements stacked up, negative down; each
    column's tooltip gives its value as `shown` writes it (the page's language)."""
    width, height, pad, legend_h = 640.0, 260.0, 36.0, 28.0
    parts = [_svg_open(width, height + legend_h, title)]
    n = len(labels)
    if n == 0 or not any(v for s in series for v in s.values):
        parts.append(_text(width / 2, height / 2, empty, anchor="middle", cls="muted"))
        return Markup("".join([*parts, "</svg>"]))  # noqa: S704 # built from escaped parts
    ups = [sum(max(s.values[i], 0) for s in series) for i in range(n)]
    downs = [sum(min(s.values[i], 0) for s in series) for i in range(n)]
    top, bottom = max([*ups, 1]), min([*downs, 0])
    scale = (height - 2 * pad) / (top - bottom)
    zero = pad + top * scale
    slot = (width - 2 * pad) / n
    bar = max(2.0, slot * 0.6)
    for i, label in enumerate(labels):
        x = _x(pad + i * slot + (slot - bar) / 2, width, bar, rtl)
        up, down = zero, zero
        for s in series:
            value = s.values[i]
            if not value:
                continue
            h = abs(value) * scale
            y = up - h if value > 0 else down
            if value > 0:
                up -= h
            else:
                down += h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}"'
                f' fill="{PALETTE[s.key]}"><title>{escape(s.label)}: {escape(shown(value))}</title></rect>'
            )
        if n <= 16 or i % max(1, n // 12) == 0:
            parts.append(_text(x + bar / 2, height - 8, label, anchor="middle", cls="axis"))
    parts.append(
        f'<line x1="{pad / 2:.1f}" y1="{zero:.1f}" x2="{width - pad / 2:.1f}" y2="{zero:.1f}"'
        ' stroke="#4a5568" stroke-width="1"/>'
    )
    parts.append(_legend(series, width, height, rtl))
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 # every text went through escape()


def bars_chart(
    rows: Sequence[tuple[str, int, str]], *, title: str, rtl: bool, empty: str
) -> Markup:
    """Horizontal bars, one per (label, value, shown value), growing from the reading start."""
    row_h, width, label_w, pad = 26.0, 640.0, 200.0, 8.0
    height = max(row_h * len(rows) + 2 * pad, 60.0)
    parts = [_svg_open(width, height, title)]
    if not rows or not any(value > 0 for _, value, _ in rows):
        parts.append(_text(width / 2, height / 2, empty, anchor="middle", cls="muted"))
        return Markup("".join([*parts, "</svg>"]))  # noqa: S704 # built from escaped parts
    most = max(value for _, value, _ in rows)
    room = width - label_w - 90
    for i, (label, value, shown) in enumerate(rows):
        y = pad + i * row_h
        w = max(0.0, value) / most * room
        x = _x(label_w, width, w, rtl)
        label_x = width - label_w + 8 if rtl else label_w - 8
        parts.append(_text(label_x, y + 17, label[:28], anchor=_flip("end", rtl), cls="label"))
        parts.append(
            f'<rect x="{x:.1f}" y="{y + 4:.1f}" width="{w:.1f}" height="{row_h - 8:.1f}"'
            f' fill="{BAR}" rx="3"><title>{_isolated(label)}: {escape(shown)}</title></rect>'
        )
        value_x = x - 6 if rtl else x + w + 6
        parts.append(_text(value_x, y + 17, shown, anchor=_flip("start", rtl), cls="value"))
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 # every text went through escape()


def _isolated(label: str) -> str:
    """A label from the store (a customer's email), escaped and isolated (FSI … PDI): an override
    it opens (U+202E) ends with it, and the figure after it reads as written."""
    return f"\u2068{escape(label)}\u2069"


def _svg_open(width: float, height: float, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}"'
        f' role="img" aria-label="{escape(title)}" class="chart" direction="ltr">'
        f"<title>{escape(title)}</title>"
    )


def _legend(series: Sequence[Series], width: float, top: float, rtl: bool) -> str:
    parts = []
    x = 36.0
    for s in series:
        box_x = _x(x, width, 12, rtl)
        parts.append(
            f'<rect x="{box_x:.1f}" y="{top + 8:.1f}" width="12" height="12"'
            f' fill="{PALETTE[s.key]}"/>'
        )
        text_x = box_x - 6 if rtl else box_x + 18
        parts.append(_text(text_x, top + 19, s.label, anchor=_flip("start", rtl), cls="legend"))
        x += 30 + 8 * len(s.label)
    return "".join(parts)
