"""Long syncs show progress: a live line on a terminal, plain log lines under cron."""

from __future__ import annotations

import io
import logging

import pytest

from sync.progress import LogProgress, TerminalProgress, make_progress


def test_a_terminal_gets_one_line_rewritten_in_place_with_counts_and_percent() -> None:
    screen = io.StringIO()
    progress = TerminalProgress(screen)
    progress.start("orders", total=1_000)
    progress.advance(250)
    progress.finish()
    drawn = screen.getvalue()
    assert drawn.count("\r") == 3
    assert "orders" in drawn
    assert "250 / 1,000" in drawn
    assert "25%" in drawn
    assert drawn.endswith("\n")


def test_without_a_terminal_progress_goes_to_the_log_every_few_thousand_items(
    caplog: pytest.LogCaptureFixture,
) -> None:
    progress = LogProgress(every=100)
    with caplog.at_level(logging.INFO, logger="sync"):
        progress.start("orders")
        progress.total(350)
        for _ in range(35):
            progress.advance(10)
        progress.finish()
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "orders: 100 of 350 done",
        "orders: 200 of 350 done",
        "orders: 300 of 350 done",
        "orders: 350 done",
    ]


@pytest.mark.parametrize(("on_terminal", "kind"), [(True, TerminalProgress), (False, LogProgress)])
def test_the_kind_of_progress_follows_whether_stderr_is_a_terminal(
    on_terminal: bool, kind: type
) -> None:
    assert type(make_progress(enabled=on_terminal)) is kind


def test_listings_running_at_once_each_show_their_progress_on_the_one_line() -> None:
    screen = io.StringIO()
    progress = TerminalProgress(screen)
    progress.start("refunds")
    progress.start("orders")
    progress.total(1_000, stage="orders")
    progress.fetched(300, stage="orders")  # read ahead by its thread
    progress.advance(40, stage="refunds")
    progress.advance(100, stage="orders")
    last = screen.getvalue().rsplit("\r", 1)[-1]
    assert "refunds" in last
    assert "40" in last
    assert "orders" in last
    assert "100 / 1,000" in last
    assert "10%" in last
    assert "(300 read)" in last
    progress.finish("refunds")  # its last state stays on a line of its own
    assert "refunds" not in screen.getvalue().rsplit("\r", 1)[-1]
    progress.advance(5)  # no stage named: the one started last
    assert "105 / 1,000" in screen.getvalue().rsplit("\r", 1)[-1]


def test_log_progress_counts_each_running_listing_on_its_own(
    caplog: pytest.LogCaptureFixture,
) -> None:
    progress = LogProgress(every=100)
    with caplog.at_level(logging.INFO, logger="sync"):
        progress.start("refunds")
        progress.start("orders")
        progress.advance(100, stage="orders")
        progress.advance(50, stage="refunds")
        progress.finish("refunds")
        progress.finish("orders")
    assert [r.getMessage() for r in caplog.records] == [
        "orders: 100 done",
        "refunds: 50 done",
        "orders: 100 done",
    ]
