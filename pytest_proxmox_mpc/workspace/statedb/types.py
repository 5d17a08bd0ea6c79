"""The contract's encodings as SQLAlchemy type decorators: DATETIME columns hold INTEGER milliseconds since
the epoch, BOOLEAN columns 0/1, JSON arrays TEXT. The DDL shows the contract's declared type names.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

from sqlalchemy import Dialect
from sqlalchemy.types import TypeDecorator, UserDefinedType

from ...errors import StateDbError

_T = TypeVar("_T")

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)


class _Declared(UserDefinedType[Any]):
    """Renders as the given SQLite type name and passes values through unchanged."""

    cache_ok = True

    def __init__(self, name: str) -> None:
        self.name = name

    def get_col_spec(self, **kw: Any) -> str:
        return self.name


class _Codec(TypeDecorator[_T]):
    """Base of the type decorators: the DDL shows ``declared``, the codec converts Python <-> SQLite values."""

    impl = _Declared
    cache_ok = True
    declared = ""

    def __init__(self) -> None:
        super().__init__(self.declared)


class EpochMillis(_Codec[datetime]):
    """An aware datetime stored as INTEGER milliseconds since the epoch, declared ``DATETIME``.

    Naive datetimes are refused; sub-millisecond precision is truncated (floor). Values read back are UTC.
    """

    declared = "DATETIME"
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise StateDbError(f"naive datetime {value.isoformat()} for a DATETIME column: give a timezone")
        return (value - _EPOCH) // _MS

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise StateDbError(f"DATETIME value {value!r} is not an integer of epoch milliseconds")
        return _EPOCH + value * _MS


class IntBool(_Codec[bool]):
    """A bool stored as 0/1, declared ``BOOLEAN``."""

    declared = "BOOLEAN"
    cache_ok = True

    def process_bind_param(self, value: bool | None, dialect: Dialect) -> int | None:
        return None if value is None else int(bool(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> bool | None:
        if value is None:
            return None
        if value not in (0, 1) or not isinstance(value, int):
            raise StateDbError(f"BOOLEAN value {value!r} is not 0 or 1")
        return bool(value)


class JsonList(_Codec[list[str]]):
    """A list of strings stored as compact JSON array text, declared ``TEXT``. In-place changes are not tracked."""

    declared = "TEXT"
    cache_ok = True

    def process_bind_param(self, value: list[str] | None, dialect: Dialect) -> str | None:
        return None if value is None else json.dumps(list(value), separators=(",", ":"))

    def process_result_value(self, value: Any, dialect: Dialect) -> list[str] | None:
        if value is None:
            return None
        try:
            data = json.loads(value)
        except (TypeError, ValueError):
            data = None
        if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
            raise StateDbError(f"JSON array value {str(value)[:80]!r} is not a JSON array of strings")
        return data
