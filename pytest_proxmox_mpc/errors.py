"""The exceptions the plugin raises. All derive from ``ProxmoxMpcError`` (and from the built-in exception a caller
would expect: ``ValueError`` for bad input, ``RuntimeError`` for a failed operation). None of them ever carries a
secret in its message."""

from __future__ import annotations


class ProxmoxMpcError(Exception):
    """Everything pytest-proxmox-mpc raises on purpose."""


class SafetyViolation(ProxmoxMpcError):
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


class SettingsError(ProxmoxMpcError, ValueError):
    """A setting has a value the plugin cannot use; the message names the setting and its source."""


class InvalidInput(ProxmoxMpcError, ValueError):
    """A value or file the package cannot use; the message names it (and its file and line, for a file)."""


class TargetUnavailable(ProxmoxMpcError, RuntimeError):
    """The cluster could not be reached, or refused the credentials. One line, no secret."""


class UnsupportedClient(ProxmoxMpcError, TypeError):
    """A client the guard cannot police (e.g. a proxmoxer backend other than https)."""


class FileProblem(ProxmoxMpcError, ValueError):
    """A malformed input file. str() is ONE line: '<file>:<line>: <problem>' (line is 1-based)."""

    def __init__(self, source: str, line: int | None, problem: str) -> None:
        # The arguments go to ValueError so the exception pickles (pytest-xdist sends errors across).
        super().__init__(source, line, " ".join(problem.split()))
        self.source, self.line, self.problem = source, line, " ".join(problem.split())

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        return f"{where}: {self.problem}"


class GuestCreateFailed(ProxmoxMpcError, RuntimeError):
    """A create did not give a usable guest; whatever it left has been removed (or is in the ledger)."""


class PreconditionMissing(GuestCreateFailed):
    """The cluster lacks what the create needs: a container template, storage for container disks, an online
    node outside the exclusion list, a free VMID in the temporary range. Nothing was created; the message is one
    line that says what to provide (the guest factory fixtures skip the test with it)."""


class TwoPhases(ProxmoxMpcError, ValueError):
    """A test carries more than one phase marker."""


class SyncError(ProxmoxMpcError, RuntimeError):
    """The sync failed and wrote nothing (rolled back; a database it created is removed). One line."""


class SyncReadError(SyncError):
    """The sync could not read the cluster: nothing was written. One line."""


class DestroyFailed(ProxmoxMpcError, RuntimeError):
    """The guest could not be removed; the message says why in one line."""


class NetworkBlocked(ProxmoxMpcError, OSError):
    """A connection to a non-loopback address was attempted while the network is blocked."""


class StateDbError(ProxmoxMpcError, ValueError):
    """The state database cannot be used (missing, unreadable, not SQLite, bad value); one line, naming the file."""


class TaskFailed(ProxmoxMpcError, RuntimeError):
    """A task ended with an exit status other than OK. ``exitstatus`` is PVE's text (``TASK ERROR: ...``)."""

    def __init__(self, upid: str, exitstatus: str) -> None:
        super().__init__(f"task {upid} ended with: {exitstatus}")
        self.upid, self.exitstatus = upid, exitstatus


class TaskTimeout(ProxmoxMpcError, RuntimeError):
    """A task was still running when the wait ran out."""


class CassetteError(ProxmoxMpcError, RuntimeError):
    """A cassette that cannot be used: one line naming the file and what to do."""


class UnreadableInput(FileProblem, InvalidInput):
    """An input file that cannot be read as its kind (missing, not a regular file, too large, not UTF-8):
    ``problem`` starts with ``cannot read:``."""


class CassetteFormatError(FileProblem, CassetteError):
    """A file that is no cassette this plugin reads: not YAML, not a vcrpy cassette, or of a format version it does
    not know (written by a newer plugin or vcrpy). str() is ONE line: '<file>[:<line>]: <problem>'."""


class ExclusionError(FileProblem):
    """A malformed exclusion file."""


class ProfileError(FileProblem):
    """A malformed profile of the system under test. str() is ONE line: '<file>:<line>: <problem>'."""


class StepUnavailable(ProxmoxMpcError, RuntimeError):
    """A step of the system under test cannot run here (no command for it, a binary it needs is missing): the
    message is the reason, for a skip."""


def flat_text(exc: BaseException) -> str:
    """The message of ``exc`` (a database driver's original error when wrapped) with its whitespace and
    line breaks folded into single spaces."""
    return " ".join(str(getattr(exc, "orig", None) or exc).split())


def one_line(exc: BaseException, limit: int = 400) -> str:
    """``Class: message`` on one line (see ``flat_text``), at most ``limit`` characters: for reports and
    messages that must stay one line."""
    return f"{type(exc).__name__}: {flat_text(exc)}"[:limit]


class BodyTooLarge(ProxmoxMpcError, ValueError):
    """An HTTP body (in chunks) grew over the limit set for it."""
