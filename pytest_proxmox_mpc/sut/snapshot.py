"""A workspace as it is at one moment (every file's bytes, ``state.db``'s rows), and what changed between two:
one line per changed file and line, for the findings of a dry run, a second sync or a declaration.

``state.db`` is compared by its rows (SQLite may rewrite pages without changing a row), its ``-wal``/``-shm``/
``-journal`` files not at all; files the tool appends to on every command (the profile's ``activity_files``:
its log, its history) may grow, but a line they held must stay. With ``usage`` (a second sync of a live
cluster), the columns that follow the guests' use (CPU, memory, traffic, uptime, a storage's bytes) and the
rows' own timestamps may change: a correct tool refreshes them. Nothing here imports pytest.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..workspace.statedb.contract import BOOKKEEPING, CONTRACT_TABLES, VOLATILE
from ..workspace.statedb.sqlitefile import readonly_connection
from .transcript import matches_any

STATE_DB = ".proxmox/state.db"
SKIPPED_SUFFIXES = ("-wal", "-shm", "-journal")
LINES_SHOWN = 5  # changed lines listed per file
Rows = Mapping[str, list[tuple[tuple[str, Any], ...]]]


@dataclass(frozen=True)
class WorkspaceSnapshot:
    """``files``: relative posix path -> bytes (``state.db`` aside); ``rows``: ``state.db``'s contract tables,
    each row as ``(column, value)`` pairs, or None without a database."""

    files: Mapping[str, bytes]
    rows: Rows | None

    @classmethod
    def take(cls, workspace: Path) -> WorkspaceSnapshot:
        files: dict[str, bytes] = {}
        for path in sorted(p for p in workspace.rglob("*") if p.is_file()):
            relative = path.relative_to(workspace).as_posix()
            if relative != STATE_DB and not relative.startswith(tuple(STATE_DB + s for s in SKIPPED_SUFFIXES)):
                files[relative] = path.read_bytes()
        db = workspace / STATE_DB
        try:
            rows = _rows(db) if db.exists() else None
        except Exception as exc:  # a database no one can read is a change of its own kind
            rows = {"(unreadable)": [(("error", type(exc).__name__),)]}
        return cls(files, rows)

    def row_count(self, tables: Iterable[str] = ("nodes", "vms", "containers", "storage")) -> int:
        return sum(len((self.rows or {}).get(table, [])) for table in tables)


def _rows(db: Path) -> dict[str, list[tuple[tuple[str, Any], ...]]]:
    with closing(readonly_connection(db)) as conn:
        present = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        out = {}
        for table in (t for t in CONTRACT_TABLES if t in present):
            cursor = conn.execute(f'SELECT * FROM "{table}"')
            names = [column[0] for column in cursor.description]
            out[table] = sorted((tuple(zip(names, row, strict=True)) for row in cursor), key=repr)
        return out


def changes(before: WorkspaceSnapshot, after: WorkspaceSnapshot, *, appendable: Iterable[str] = (),
            added_files: bool = False, added_lines: bool = False, usage: bool = False) -> list[str]:
    """One line per change from ``before`` to ``after``. ``appendable`` globs may gain lines at their end;
    ``added_files``: a new file is no change; ``added_lines``: an existing file may gain lines (none may change
    or go); ``usage``: use and timestamp columns of ``state.db`` may change."""
    patterns = tuple(appendable)
    found: list[str] = []
    for relative in sorted(set(before.files) | set(after.files)):
        old, new = before.files.get(relative), after.files.get(relative)
        if old == new:
            continue
        if old is None:
            if not (added_files or matches_any(relative, patterns)):
                found.append(f"{relative}: written (it was not there)")
            continue
        if new is None:
            found.append(f"{relative}: removed")
            continue
        if (matches_any(relative, patterns) or added_lines) and _only_added(old, new, at_end=not added_lines):
            continue
        found.append(f"{relative}: " + "; ".join(_line_changes(old, new)))
    found += _row_changes(_without_usage(before.rows) if usage else before.rows,
                          _without_usage(after.rows) if usage else after.rows)
    return found


def _without_usage(rows: Rows | None) -> Rows | None:
    if rows is None:
        return None
    return {table: sorted((tuple(pair for pair in row if pair[0] not in BOOKKEEPING | VOLATILE.get(table, set()))
                           for row in table_rows), key=repr) for table, table_rows in rows.items()}


def _only_added(old: bytes, new: bytes, at_end: bool) -> bool:
    if at_end:
        return new.startswith(old)
    matcher = difflib.SequenceMatcher(None, old.splitlines(), new.splitlines(), autojunk=False)
    return all(tag in ("equal", "insert") for tag, *_ in matcher.get_opcodes())


def _line_changes(old: bytes, new: bytes) -> list[str]:
    try:
        a, b = old.decode("utf-8").splitlines(), new.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        return [f"binary content changed ({len(old)} -> {len(new)} bytes)"]
    out: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        if tag == "insert":
            out += [f"line {j + 1} added: {b[j]!r}" for j in range(j1, j2)]
        elif tag == "delete":
            out += [f"line {i + 1} removed: {a[i]!r}" for i in range(i1, i2)]
        else:
            out += [f"line {j1 + k + 1} changed: {a[i1 + k]!r} -> {b[j1 + k]!r}" for k in range(min(i2 - i1, j2 - j1))]
    return out[:LINES_SHOWN] + ([f"... {len(out) - LINES_SHOWN} more"] if len(out) > LINES_SHOWN else [])


def _row_changes(before: Rows | None, after: Rows | None) -> list[str]:
    if before == after:
        return []
    if before is None or after is None:
        return [f"{STATE_DB}: " + ("created" if before is None else "removed")]
    out = []
    for table in sorted(set(before) | set(after)):
        old, new = set(before.get(table, [])), set(after.get(table, []))
        if old != new:
            out.append(f"{STATE_DB}: table {table}: {len(new - old)} rows added or changed, "
                       f"{len(old - new)} removed or changed")
    return out
