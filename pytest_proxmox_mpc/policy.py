"""What may leave the process: a request is described, a policy decides, the guard enforces.

Nothing here imports pytest or requests. ``ApiRequest`` is the request as the policy sees it (the
path relative to ``/api2/json``), ``Decision`` names the rule that decided.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

from .errors import ReadOnlyViolation, SafetyViolation

API_PREFIXES = ("/api2/json", "/api2/extjs")
LOGIN_PATH = "/access/ticket"


@dataclass(frozen=True)
class ApiRequest:
    """One API request: method, path below ``/api2/json`` (None if the URL is no API path) and parameters.

    ``opaque_body`` is True when the body could not be read as form fields (an upload, a stream):
    a policy that needs the parameters must then refuse.
    """

    method: str
    path: str | None
    params: Mapping[str, str] = field(default_factory=dict)
    opaque_body: bool = False

    @property
    def shown_path(self) -> str:
        return self.path if self.path is not None else "<not an API path>"

    @classmethod
    def from_http(cls, method: str, url: str, body: bytes | str | None = None) -> ApiRequest:
        """Describe an HTTP request: the query string and a form-encoded body become ``params``."""
        parts = urlsplit(url)
        # Decoded, because the server decodes it: the policy must judge the path the server acts on.
        full = unquote(parts.path)
        path: str | None = None
        for prefix in API_PREFIXES:
            if full == prefix or full.startswith(prefix + "/"):
                path = full[len(prefix):] or "/"
                break
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        opaque = False
        if isinstance(body, (bytes, str)):
            try:
                text = body.decode("utf-8") if isinstance(body, bytes) else body
                if text:
                    params.update(parse_qsl(text, keep_blank_values=True, strict_parsing=True))
            except (UnicodeDecodeError, ValueError):
                opaque = True
        elif body is not None:  # a stream or multipart encoder: nothing we can read without consuming it
            opaque = True
        return cls(method=method.upper(), path=path, params=params, opaque_body=opaque)


@dataclass(frozen=True)
class Decision:
    """The policy's answer: allowed or not, the rule that decided, and why."""

    allowed: bool
    rule: str
    reason: str
    violation: type[SafetyViolation] = SafetyViolation

    def raise_if_refused(self, request: ApiRequest) -> None:
        """Raise this decision's violation when the request is refused."""
        if not self.allowed:
            raise self.violation(request.method, request.shown_path, self.rule, self.reason)


class Policy(Protocol):
    """Anything that decides, for one request, whether it may be sent."""

    def decide(self, request: ApiRequest) -> Decision: ...


class ReadOnlyPolicy:
    """GET only, plus the login POST to /access/ticket. Every other method is refused."""

    name = "read-only"

    def decide(self, request: ApiRequest) -> Decision:
        if request.method == "GET":
            return Decision(True, "read-only:get", "GET requests only read")
        if request.method == "POST" and request.path == LOGIN_PATH:
            return Decision(True, "read-only:login", "the login creates a ticket and changes nothing")
        return Decision(False, "read-only:no-writes",
                        "a read-only client sends only GET requests (and the login)", ReadOnlyViolation)
