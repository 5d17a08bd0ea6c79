"""Many GETs at once (one config per guest), bounded, adaptive, each one through the client's guard.

A snapshot of a 10,000-guest cluster reads 10,000 configs. Sequentially, each costs a round trip; in
parallel, the cost is the client's CPU per request, which for ``requests`` is some five times what a GET
spoken with h11 costs (its sessions, cookies, adapters, and urllib3's header parsing). So where nothing else
has to see the request (no recorder, which plays and records through ``requests``, and no HTTP proxy), the
reads go out on a ``direct.DirectChannel``: keep-alive connections spoken with h11, the client's auth and TLS
verification, and the guard's one safety path (``Guard.send``), as ``PolicedAdapter`` takes it. Otherwise
they go through the client itself.

How many are in flight adapts (``Window``): it starts at ``START_IN_FLIGHT`` and grows by one per answer up
to ``MAX_IN_FLIGHT`` while answers come about as fast as the fastest seen; an answer ``SLOW_FACTOR`` times
slower (the cluster is queueing) shrinks it by one, and a "busy" answer (429, 503) halves it and is asked
again after the watch's probe pauses. Any other failure fails the read, as a single request would.
``MAX_IN_FLIGHT`` = 32: at a LAN's 5 ms the server is saturated well below it (fakepve answers a config
GET in 0.4-1 ms of its one process's CPU, so some 7 in flight keep it busy; the client spends 0.2 ms), and
raising it buys nothing there; 20-40 ms WAN latency needs this many to stay busy, and a PVE node's pveproxy (3
workers by default) handles 32 concurrent keep-alive GETs of pmxcfs files without trouble; a cluster that
does not is caught by the latency rule long before.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from proxmoxer import ResourceException

from . import _proxmoxer
from .direct import DirectChannel, channel_of

MAX_IN_FLIGHT = 32
START_IN_FLIGHT = 4
SLOW_FACTOR = 4.0
SLOW_SLACK = 0.002  # seconds: below this, a slower answer is noise, not queueing
BUSY_STATUSES = frozenset({429, 503})
BUSY_PAUSES = (0.2, 0.5, 1.0, 2.0)  # as the watch's connectivity probes


class Window:
    """How many requests may be in flight: grows while answers stay fast, shrinks when they slow down."""

    def __init__(self, start: int = START_IN_FLIGHT, limit: int = MAX_IN_FLIGHT) -> None:
        self.limit = max(1, limit)
        self.size = float(min(max(1, start), self.limit))
        self.in_flight = 0
        self.fastest: float | None = None
        self._cond = threading.Condition()

    def acquire(self) -> None:
        with self._cond:
            while self.in_flight >= int(self.size):
                self._cond.wait()
            self.in_flight += 1

    def release(self, seconds: float | None, busy: bool = False) -> None:
        """One request done, answered after ``seconds`` (None: it failed); ``busy``: the cluster said so."""
        with self._cond:
            self.in_flight -= 1
            if busy:
                self.size = max(1.0, self.size / 2)
            elif seconds is not None:
                self.fastest = seconds if self.fastest is None else min(self.fastest, seconds)
                if seconds > self.fastest * SLOW_FACTOR + SLOW_SLACK:
                    self.size = max(1.0, self.size - 1)
                else:
                    self.size = min(float(self.limit), self.size + 1)
            free = int(self.size) - self.in_flight
            if free > 0:
                self._cond.notify(free)  # only as many as may go: waking every waiting thread costs CPU


class _Busy(Exception):
    """A 429 or 503 answer: nothing was done, ask again later."""


def _getter(api: Any, channel: DirectChannel | None) -> Callable[[str], Any]:
    """GET one path: on ``channel`` when there is one, else through the client (any object that, called with
    a path, gives something to ``get``)."""
    if channel is None:
        return lambda path: api(path).get()
    prefix = "/" + _proxmoxer.base_url_of(api).partition("://")[2].partition("/")[2]

    def get(path: str) -> Any:
        answer = channel.send("GET", f"{prefix}/{path}", {"Accept": "application/json"})
        if answer.status in BUSY_STATUSES:
            raise _Busy(str(answer.status))
        if answer.status >= 400:
            raise ResourceException(answer.status, http.client.responses.get(answer.status, ""), answer.reason,
                                    errors=answer.errors())
        return answer.data()
    return get


def read_many(api: Any, paths: Sequence[str], *, limit: int = MAX_IN_FLIGHT,
              on_request: Callable[[], None] | None = None) -> list[Any]:
    """The answers (``data``) to GET each of ``paths`` (relative to the API root), in order, at most ``limit``
    in flight. The first failure is raised once every request in flight has ended."""
    channel = channel_of(api, pool_size=limit)
    get = _getter(api, channel)
    window = Window(limit=limit)
    answers: list[Any] = [None] * len(paths)
    failures: list[BaseException] = []
    next_index = iter(range(len(paths)))
    lock = threading.Lock()

    def one(index: int) -> None:
        for pause in (*BUSY_PAUSES, None):
            window.acquire()
            start = time.perf_counter()
            try:
                if on_request is not None:
                    on_request()
                answers[index] = get(paths[index])
            except _Busy:
                window.release(None, busy=True)
                if pause is None:
                    raise ResourceException(503, "Service Unavailable", "the cluster stayed busy") from None
                time.sleep(pause)
                continue
            except BaseException:
                window.release(None)
                raise
            window.release(time.perf_counter() - start)
            return

    def worker() -> None:
        while not failures:
            with lock:
                index = next(next_index, None)
            if index is None:
                return
            try:
                one(index)
            except BaseException as exc:
                failures.append(exc)

    threads = [threading.Thread(target=worker, name=f"pve-read-{n}", daemon=True)
               for n in range(min(window.limit, len(paths)))]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        if channel is not None:
            channel.close()
    if failures:
        raise failures[0]
    return answers
