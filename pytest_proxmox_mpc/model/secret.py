"""A string that refuses to show itself: secrets travel as ``Secret`` until the last moment."""

from __future__ import annotations


class Secret:
    """Holds a credential. ``str()``, ``repr()`` and f-strings show ``***``; ``reveal()`` gives the value.

    Keeping the value behind a method means a traceback, a log line or a report that prints the
    settings can never print the credential by accident.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The credential itself: call this only where it is handed to the client."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __format__(self, spec: str) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)
