"""The guard: asks the policy before anything is sent, records every request, keeps the ledger.

``Guard.send`` is the one safety path: it admits a request (a refused one raises, nothing is sent), has it
sent, and settles it (audit line, ledger, connection health), whatever sends it. Every client path takes it:
``PolicedAdapter`` (proxmoxer's https backend, the login, the proxy's upstream while a recorder is in use),
``cluster.direct.DirectChannel`` (the bulk reader and the proxy's upstream otherwise). ``Guard`` knows no
HTTP library. ``PolicedAdapter`` puts it under proxmoxer: its https backend sends every API call through one
``requests.Session`` that all resource objects of a ``ProxmoxAPI`` share, so wrapping that session's
transport adapters polices resource objects made before the guard was installed too. A refused request
is stopped below every client-side convenience but above the socket (and above the recorder), so it never
leaves the process.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import requests
from requests.adapters import BaseAdapter

from ..errors import ProxmoxMpcError, UnsupportedClient
from ..faults import FaultPlan, Injected
from ..safety.audit import upid_of
from ..safety.ledger import Ledger
from ..safety.policy import ApiRequest, Decision, Policy
from ..safety.trail import AuditTrail
from ._proxmoxer import backend_name, session_of
from .tasks import pause

if TYPE_CHECKING:  # the recorder (and vcrpy) is imported only by a run that records or replays
    from ..recording.recorder import Recorder

Sent = TypeVar("Sent")  # what a transport gives back for a request (a requests.Response, a RawAnswer)


class ConnectionHealth:
    """Consecutive connection failures of a run's clients: an answer of any status resets the count."""

    def __init__(self) -> None:
        self.in_a_row = 0
        self.last_error = ""

    def failed(self, error: BaseException) -> None:
        self.in_a_row += 1
        # The exception's class only: its text can carry a URL with a ticket in a query (never ours, but safe).
        self.last_error = type(error).__name__

    def answered(self) -> None:
        self.in_a_row = 0


class Guard:
    """Decides (``policy``), audits (``trail``), tracks created guests (``ledger``), records or replays
    (``recorder``) and counts connection failures (``health``); all but the policy are optional. ``source``
    marks its audit lines (``"proxy"`` for the safety proxy's requests)."""

    def __init__(self, policy: Policy, trail: AuditTrail | None = None, ledger: Ledger | None = None,
                 recorder: Recorder | None = None, health: ConnectionHealth | None = None,
                 source: str | None = None, on_create: Callable[[ApiRequest, int], None] | None = None,
                 faults: FaultPlan | None = None) -> None:
        self.policy = policy
        self.trail = trail
        self.ledger = ledger
        self.recorder = recorder  # plays answers from, or records them to, cassettes
        self.health = health
        self.source = source
        self.on_create = on_create  # told of each guest the cluster accepted a create of (the proxy's tool guests)
        self.faults = faults  # the faults injected in the cluster's place (``inject``)

    def inject(self, request: ApiRequest) -> Injected | None:
        """The fault ``request`` gets in the cluster's place (None: send it). The policy still decides first: a
        refused request stays refused (its violation raised); a faulted one is audited as ``injected``, its answer
        given by the fault, and never sent (so never counted as a create either)."""
        plan = self.faults
        fault = plan.pick(request.method, request.path, request.params) if plan is not None else None
        if fault is None:
            return None
        decision = self.admit(request)
        if self.trail is not None:
            self.trail.record(request, decision, fault.status or None, fault.delay * 1000, fault.upid,
                              source=self.source, injected=fault.kind)
        if fault.delay and fault.transport is None:
            pause(fault.delay)  # a slow answer: the caller's budget runs out first
        return fault

    def admit(self, request: ApiRequest) -> Decision:
        """The policy's decision; a refused request is audited and its violation raised."""
        decision = self.policy.decide(request)
        if not decision.allowed:
            if self.trail is not None:
                self.trail.record(request, decision, source=self.source)
            decision.raise_if_refused(request)
        return decision

    def settle(self, request: ApiRequest, decision: Decision, status: int | None, duration_ms: float,
               body: bytes | None = None, error: BaseException | None = None) -> None:
        """Record an allowed request once its answer (``status`` None: no answer, ``error`` why) has come."""
        if self.health is not None:
            if status is not None:
                self.health.answered()
            elif isinstance(error, (requests.ConnectionError, requests.Timeout)):
                self.health.failed(error)
        upid = None
        if body and request.method != "GET":  # only writes start tasks: GET answers are not parsed
            try:
                upid = upid_of(json.loads(body))
            except ValueError:
                upid = None
        if self.ledger is not None and decision.creates is not None and status == 200:
            self.ledger.add(decision.creates)
            if self.on_create is not None:
                self.on_create(request, decision.creates)
        if self.trail is not None:
            self.trail.record(request, decision, status, duration_ms, upid, source=self.source)

    def send(self, request: ApiRequest, transmit: Callable[[], tuple[Sent, int, bytes | None]]) -> Sent:
        """The one safety path of every client: ``admit`` ``request`` (a refused one raises its violation and
        ``transmit`` is never called), ``transmit`` it (it returns what to give back, the answer's status and,
        for a write, its body, where a task's UPID is read from), then ``settle`` it; a request that fails is
        settled with the error, which is raised again."""
        decision = self.admit(request)
        start = time.perf_counter()
        try:
            sent, status, body = transmit()
        except BaseException as exc:
            self.settle(request, decision, None, (time.perf_counter() - start) * 1000, error=exc)
            raise
        self.settle(request, decision, status, (time.perf_counter() - start) * 1000, body)
        return sent


class InjectedBreak(ProxmoxMpcError, requests.ConnectionError):
    """A fault that breaks the connection (``reset``, ``no-answer``) in the cluster's place: raised where a
    transport raises its own connection error; the safety proxy breaks its client's connection the same way."""

    def __init__(self, fault: Injected) -> None:
        what = "connection reset in the middle of the answer" if fault.transport == "reset" else \
            "connection closed without an answer"
        super().__init__(f"{what} (injected fault {fault.kind})")
        self.fault = fault


def injected_answer(fault: Injected) -> tuple[int, str, list[tuple[str, str]], bytes]:
    """(status, reason, headers, body) of ``fault``; a broken connection raises ``InjectedBreak`` (after its
    delay)."""
    if fault.transport is not None:
        if fault.delay:
            pause(fault.delay)
        raise InjectedBreak(fault)
    return fault.status, fault.reason, list(fault.headers), fault.body


def injected_response(fault: Injected, request: requests.PreparedRequest) -> requests.Response:
    """``fault`` as the ``requests`` answer to ``request`` (a broken connection raises ``InjectedBreak``)."""
    injected_answer(fault)
    response = requests.Response()
    response.status_code, response.reason = fault.status, fault.reason
    response.headers.update(dict(fault.headers))
    response._content = fault.body
    response.url, response.request = request.url or "", request
    response.encoding = "utf-8"
    return response


class PolicedAdapter(BaseAdapter):
    """Sends a request through ``inner`` only when the guard admits it."""

    def __init__(self, inner: BaseAdapter, guard: Guard) -> None:
        super().__init__()
        self.inner = inner
        self.guard = guard

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        described = ApiRequest.from_http(request.method or "", request.url or "", request.body)
        fault = self.guard.inject(described)
        if fault is not None:  # never sent; recorded (and replayed) like any answer
            recorder = self.guard.recorder
            if recorder is None or fault.transport is not None:
                return injected_response(fault, request)
            return recorder.send(request, lambda: injected_response(fault, request))

        def transmit() -> tuple[requests.Response, int, bytes | None]:
            recorder = self.guard.recorder
            if recorder is None:
                response = self.inner.send(request, *args, **kwargs)
            else:
                response = recorder.send(request, lambda: self.inner.send(request, *args, **kwargs))
            # The session reads the body right after anyway (unless streaming), so reading it here costs nothing.
            body = response.content if described.method != "GET" and not kwargs.get("stream") else None
            return response, response.status_code, body
        return self.guard.send(described, transmit)

    def close(self) -> None:
        self.inner.close()


def police_session(session: requests.Session, guard: Guard) -> requests.Session:
    """Route every transport adapter of ``session`` through ``guard``; returns the session."""
    for prefix, adapter in list(session.adapters.items()):
        if isinstance(adapter, PolicedAdapter):
            adapter.guard = guard
        else:
            session.mount(prefix, PolicedAdapter(adapter, guard))
    return session


def police(api: Any, policy: Policy | Guard) -> Any:
    """Make every request of a proxmoxer API (or resource) pass ``policy``; returns the same object.

    Only the https backend is supported: the ssh and local backends run ``pvesh`` commands the guard
    cannot see, so they are refused with ``UnsupportedClient`` rather than left unguarded.
    """
    backend, session = backend_name(api), session_of(api)
    if backend != "https" or session is None:
        raise UnsupportedClient(f"cannot guard a proxmoxer client with the {backend!r} backend: only the "
                                "https backend's requests can be policed")
    police_session(session, as_guard(policy))
    return api


def as_guard(policy: Policy | Guard) -> Guard:
    """``policy`` itself if it is a guard, else a guard that only decides (no audit, no ledger)."""
    return policy if isinstance(policy, Guard) else Guard(policy)
