"""The deadline of an exchange: one watchdog thread shuts the socket of what is still open at its
deadline, and leaves alone what finished in time."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from sync import transport
from sync.transport import _Watch, _Watchdog

#: Far beyond any deadline below: a test that waits this long has failed.
BOUND_SECONDS = 20.0


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    ours.settimeout(BOUND_SECONDS)
    yield ours, theirs
    ours.close()
    theirs.close()


def connection(sock: socket.socket) -> Any:
    return SimpleNamespace(sock=sock)  # what _shut reads of an HTTPConnection


def test_a_read_still_blocked_at_the_deadline_ends_there(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, _ = pair
    started = time.monotonic()
    watch = _Watch(0.2)
    watch.watch(connection(ours))

    assert ours.recv(1) == b""  # the shutdown ends the read, as a closed connection would
    assert watch.expired
    assert 0.2 <= time.monotonic() - started < BOUND_SECONDS
    watch.close()


def test_an_exchange_closed_in_time_is_left_alone_at_its_deadline(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    watch = _Watch(BOUND_SECONDS)
    watch.watch(connection(ours))
    watch.close()

    watch.expire()  # what the watchdog does when the deadline comes

    assert not watch.expired
    theirs.sendall(b"x")
    assert ours.recv(1) == b"x"  # still open: it may serve the next request


def test_a_watch_expired_before_its_connection_came_shuts_it_at_once(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, _ = pair
    watch = _Watch(BOUND_SECONDS)
    watch.expire()

    watch.watch(connection(ours))

    assert watch.expired
    assert ours.recv(1) == b""


def test_many_exchanges_share_one_watchdog_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    watchdog = _Watchdog()
    monkeypatch.setattr(transport, "_watchdog", watchdog)
    first = _Watch(BOUND_SECONDS)
    thread = watchdog._thread

    watches = [_Watch(BOUND_SECONDS) for _ in range(50)]
    for watch in [first, *watches]:
        watch.close()

    assert thread is not None
    assert thread.is_alive()
    assert watchdog._thread is thread
    assert not any(watch.expired for watch in watches)
