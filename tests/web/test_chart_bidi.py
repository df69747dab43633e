"""A customer's email labels the top customers chart, and its bar's tooltip reads `email: points`.
An email holding a right-to-left override (U+202E, which nothing closed) reversed the figure
after it: `ann@example.com: 1,250` showed the points as 052,1 (on pages in English, French,
German and Indonesian, whose numbers are not isolated). The label is isolated, so what it opens
ends with it."""

from __future__ import annotations

import re

from loyalty.web.charts import bars_chart

OPENS_EMBEDDING = "\u202a\u202b\u202d\u202e"  # LRE RLE LRO RLO, closed by PDF
OPENS_ISOLATE = "\u2066\u2067\u2068"  # LRI RLI FSI, closed by PDI (with what opened inside)


def open_at_end(text: str) -> list[str]:
    """The embeddings, overrides and isolates `text` leaves open (UAX #9's stack, simplified)."""
    stack: list[str] = []
    for c in text:
        if c in OPENS_EMBEDDING:
            stack.append("embedding")
        elif c in OPENS_ISOLATE:
            stack.append("isolate")
        elif c == "\u202c" and stack and stack[-1] == "embedding":
            stack.pop()
        elif c == "\u2069" and "isolate" in stack:
            while stack.pop() != "isolate":
                pass
    return stack


def test_a_label_that_opens_an_override_leaves_the_figure_after_it_untouched() -> None:
    label = "\u202eann@example.com"
    svg = bars_chart([(label, 1250, "1,250")], title="Top earning customers", rtl=False, empty="")

    [tooltip] = re.findall(r"<title>([^<]*): 1,250</title>", str(svg))

    assert "ann@example.com" in tooltip
    assert open_at_end(tooltip) == [], repr(tooltip)
