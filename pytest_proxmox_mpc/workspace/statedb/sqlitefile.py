"""A state database read with plain ``sqlite3``, no SQLAlchemy: a read-only connection, and the integrity checks
SQLite itself runs. The validators, the watch and the workspace snapshots read this way, so a run that only looks
at a database never imports the ORM (about a second of start-up with the models).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from ...errors import flat_text

StrPath = str | os.PathLike[str]


def connector(path: Path, mode: str) -> Callable[[], sqlite3.Connection]:
    """Connections to ``path`` in SQLite's URI ``mode`` (``ro``, ``rw``), with foreign keys enforced."""
    uri = f"{path.resolve().as_uri()}?mode={mode}"

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(uri, uri=True)
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    return connect


def readonly_connection(path: StrPath) -> sqlite3.Connection:
    """A plain ``sqlite3`` connection to ``path`` opened with ``mode=ro`` (values as stored, no ORM types)."""
    return connector(Path(path), "ro")()


def integrity_problems(path: StrPath) -> list[str]:
    """Problems found by ``PRAGMA quick_check`` and ``PRAGMA foreign_key_check`` (read-only); empty when fine."""
    target = Path(path)
    if not target.is_file():
        return [f"state database {target}: {'no such file' if not target.exists() else 'not a file'}"]
    problems: list[str] = []
    try:
        conn = readonly_connection(target)
        try:
            for (line,) in conn.execute("PRAGMA quick_check"):
                if line != "ok":
                    problems.append(f"state database {target}: quick_check: {' '.join(str(line).split())}")
            fk_rows = [] if problems else conn.execute("PRAGMA foreign_key_check").fetchall()  # unreliable if corrupt
            for table, rowid, parent, fkid in fk_rows:
                fks = {row[0]: row for row in conn.execute(f'PRAGMA foreign_key_list("{table}")')}
                column, ref = fks[fkid][3], fks[fkid][4]
                problems.append(f"{table} rowid {rowid}: {column} has no matching {parent}.{ref}")
        finally:
            conn.close()
    except sqlite3.Error as exc:
        problems.append(f"state database {target}: {flat_text(exc)}")
    return problems
