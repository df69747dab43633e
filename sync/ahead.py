"""Requests sent ahead, answers taken in order: how a sync keeps `concurrency` requests in flight.

For `sync.paging` (numbered pages and batches of ids fetched ahead), `sync.customer_meta` (write-back
batches posted concurrently) and `Prefetched` listings (a listing's pages fetched by a thread of its
own while the caller writes the ledger). The caller sees the same sequence, in the same order, as
if it had asked one request at a time: it still handles each answer in order, in its own thread, so
every ledger write (and the lock order, and the cursor that moves with its entries) is unchanged.
Only the waiting overlaps.

Every thread here is a daemon: a failed sync never waits for a request to come back, and nothing is
ever held beyond `width` answers (memory stays bounded whatever the store's size).
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import Any, Generic, TypeVar

_T = TypeVar("_T")
_R = TypeVar("_R")

#: How long closing a prefetched listing waits for its thread (daemonic: the process never waits).
JOIN_SECONDS = 2.0
#: How often a waiting fetching thread looks whether it was stopped.
WAIT_SECONDS = 0.1


def start_thread(target: Callable[..., object], *args: object, name: str) -> threading.Thread:
    """A daemon thread running `target(*args)` in a copy of the caller's context, so that what
    the caller set there (the rank of its requests, `sync.client.ranked`) holds in it too."""
    context = contextvars.copy_context()
    thread = threading.Thread(target=context.run, args=(target, *args), name=name, daemon=True)
    thread.start()
    return thread


class _Call(Generic[_R]):
    """One call running in a daemon thread; `result()` waits for it and re-raises its error."""

    def __init__(self, call: Callable[[], _R]) -> None:
        self._answer: queue.Queue[tuple[bool, _R | BaseException]] = queue.Queue(maxsize=1)
        start_thread(self._run, call, name="ahead")

    def _run(self, call: Callable[[], _R]) -> None:
        try:
            self._answer.put((True, call()))
        except BaseException as error:  # noqa: BLE001 - handed to the caller's thread, raised there
            self._answer.put((False, error))

    def result(self) -> _R:
        ok, value = self._answer.get()
        if ok:
            return value  # type: ignore[return-value]
        assert isinstance(value, BaseException)
        raise value


def in_order(calls: Iterable[Callable[[], _R]], width: int) -> Generator[_R, None, None]:
    """Each call's result, in the order of `calls`, with up to `width` calls running at once.

    The calls are drawn from `calls` lazily, `width` ahead of the one the caller waits for; a
    caller that stops early (closes the generator) leaves at most `width - 1` calls running,
    whose answers are dropped. `width` 1 is plain sequential calling.
    """
    width = max(1, width)
    pending: deque[_Call[_R]] = deque()
    source = iter(calls)
    exhausted = False
    while True:
        while not exhausted and len(pending) < width:
            try:
                pending.append(_Call(next(source)))
            except StopIteration:
                exhausted = True
        if not pending:
            return
        yield pending.popleft().result()


class Prefetched(Generic[_T]):
    """A listing's pages fetched by a thread of its own, up to `depth` pages ahead of the caller.

    `start()` begins fetching (a listing may start before the caller is ready for it, so that the
    store works while the ledger writes); iterating yields the pages in order and re-raises, at its
    place, an error the listing raised. `close()` (also on leaving a `with` block) stops the thread
    and closes the listing's generator in that thread, so its own threads and pages are released.

    With `after` (the listing the caller takes before this one), the first page is fetched at
    once and the rest once that listing has fetched its last page or stopped, or once the caller
    asks for this one's pages (it may give up on the other halfway, after an error): a listing
    waiting for its turn holds one page, not `depth` pages and its own fetching threads' (a
    window's time slices start after its first page), so the pages held stay the same few
    whatever the store's size. The first page, the only one of a catch-up pass's listing, is
    never held back, and neither is a listing whose pages said `go_ahead()` (only one more page
    is left: holding it back would save one page of memory and cost a round trip at the end).
    """

    def __init__(
        self,
        pages: Callable[[], Iterator[_T]],
        *,
        depth: int,
        after: Prefetched[Any] | None = None,
    ) -> None:
        self._pages = pages
        self._out: queue.Queue[tuple[str, _T | BaseException | None]] = queue.Queue(
            maxsize=max(1, depth)
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._after = after
        #: Set once the caller waits for this listing's pages (or `go_ahead()`): `after` no
        #: longer holds it back.
        self._wanted = threading.Event()
        #: Set once this listing has fetched its last page, failed, or was stopped.
        self.fetched = threading.Event()

    def start(self) -> Prefetched[_T]:
        if self._thread is None:
            self._thread = start_thread(self._run, name="prefetch")
        return self

    def __enter__(self) -> Prefetched[_T]:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[_T]:
        self.start()
        self._wanted.set()
        while True:
            kind, value = self._out.get()
            if kind == "page":
                yield value  # type: ignore[misc]
            elif kind == "error":
                assert isinstance(value, BaseException)
                raise value
            else:
                return

    def groups(self, size: Callable[[_T], int], bound: int) -> Iterator[list[_T]]:
        """The pages in order, in groups: the next page (waited for) and every page after it that
        is fetched already (never waited for), while the group's `size` stays under `bound`. A
        slow listing gives groups of one page; a fast one fills them. An error the listing raised
        comes after the group of the pages before it, as when iterating."""
        self.start()
        self._wanted.set()
        held: tuple[str, _T | BaseException | None] | None = None
        while True:
            kind, value = held or self._out.get()
            held = None
            if kind == "error":
                assert isinstance(value, BaseException)
                raise value
            if kind != "page":
                return
            group = [value]  # type: ignore[list-item]
            total = size(value)  # type: ignore[arg-type]
            while total < bound:
                try:
                    item = self._out.get_nowait()
                except queue.Empty:
                    break
                if item[0] != "page":
                    held = item
                    break
                group.append(item[1])  # type: ignore[arg-type]
                total += size(item[1])  # type: ignore[arg-type]
            yield group  # type: ignore[misc]

    def go_ahead(self) -> None:
        """Fetch every page now, without waiting for the listing before this one (called from
        this listing's pages, which know how many are left)."""
        self._wanted.set()

    def close(self) -> None:
        self._stop.set()
        _drain(self._out)
        if self._thread is not None:
            self._thread.join(timeout=JOIN_SECONDS)

    def _run(self) -> None:
        try:
            self._fetch()
        finally:
            self.fetched.set()

    def _fetch(self) -> None:
        pages = self._pages()
        try:
            for page in pages:
                if not self._put(("page", page)) or not self._turn():
                    return
            self._put(("end", None))
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, raised there
            self._put(("error", error))
        finally:
            close = getattr(pages, "close", None)
            if callable(close):
                close()

    def _turn(self) -> bool:
        """Wait (once) until the listing before this one has fetched its pages, or the caller
        wants this one's; False: stopped."""
        if self._after is not None:
            while not (self._after.fetched.is_set() or self._wanted.is_set()):
                if self._stop.is_set():
                    return False
                self._after.fetched.wait(WAIT_SECONDS)
            self._after = None
        return True

    def _put(self, item: tuple[str, _T | BaseException | None]) -> bool:
        while not self._stop.is_set():
            try:
                self._out.put(item, timeout=WAIT_SECONDS)
                return True
            except queue.Full:
                continue
        return False


def _drain(out: queue.Queue[Any]) -> None:
    while True:
        try:
            out.get_nowait()
        except queue.Empty:
            return
