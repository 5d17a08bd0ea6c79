"""The exceptions the plugin raises. None of them ever carries a secret in its message."""

from __future__ import annotations


class SafetyViolation(Exception):
    """A request was refused by the safety policy before it left the process.

    ``method`` and ``path`` name the request (parameters are never included, they may hold
    secrets); ``rule`` names the rule that refused it.
    """

    def __init__(self, method: str, path: str, rule: str, reason: str) -> None:
        self.method = method
        self.path = path
        self.rule = rule
        self.reason = reason
        super().__init__(f"refused {method} {path}: {reason} (rule {rule})")


class PhaseViolation(SafetyViolation):
    """The request is not allowed in the phase of the running test."""


class ReadOnlyViolation(PhaseViolation):
    """A read-only client was asked to send something other than a GET (or the login)."""


class ExclusionViolation(SafetyViolation):
    """The request would touch a guest, node or storage that the exclusion list protects."""


class SettingsError(ValueError):
    """A setting has a value the plugin cannot use; the message names the setting and its source."""


class TargetUnavailable(RuntimeError):
    """The cluster could not be reached, or refused the credentials. One line, no secret."""


class UnsupportedClient(TypeError):
    """A client the guard cannot police (e.g. a proxmoxer backend other than https)."""


def flat_text(exc: BaseException) -> str:
    """The message of ``exc`` (a database driver's original error when wrapped) with its whitespace and
    line breaks folded into single spaces."""
    return " ".join(str(getattr(exc, "orig", None) or exc).split())


def one_line(exc: BaseException, limit: int = 400) -> str:
    """``Class: message`` on one line (see ``flat_text``), at most ``limit`` characters: for reports and
    messages that must stay one line."""
    return f"{type(exc).__name__}: {flat_text(exc)}"[:limit]
