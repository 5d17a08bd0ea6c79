"""What the Proxmox-MPC test double (``mpc_console.py``) writes to a workspace beside the package's reference sync
and export: an empty ``state.db`` with the contract schema, the declared guests' VMIDs, and the real tool's
defects in generated files (time stamps, the token secret as a Terraform variable's default).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

STATE_DB = Path(".proxmox", "state.db")
MAIN_TF = Path("terraform", "main.tf")
SECRET_VARIABLE = 'variable "proxmox_api_token_secret" {'


def stamp() -> None:
    """The real tool's timestamps: ``# Last updated`` in the inventory, ``timestamp`` in main.tf's locals."""
    now = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
    inventory = Path("ansible", "inventory.yml")
    lines = inventory.read_text(encoding="utf-8").splitlines(keepends=True)
    at = 1 if lines and lines[0].startswith("---") else 0
    inventory.write_text("".join([*lines[:at], f"# Last updated: {now}\n", *lines[at:]]), encoding="utf-8")
    text = MAIN_TF.read_text(encoding="utf-8")
    found = re.search(r"^locals \{\n(  \w+ *)=", text, re.M)  # aligned as terraform fmt aligns the block
    if found:
        line = f'  {"timestamp":<{max(len(found[1]) - 2, 10)}}= "{now}"\n'
        text = text[:found.start(1)] + line + text[found.start(1):]
    else:
        text += f'\nlocals {{\n  timestamp = "{now}"\n}}\n'
    MAIN_TF.write_text(text, encoding="utf-8")


def secret_default(secret: str) -> None:
    """The real tool's ``default = "<token secret>"`` in main.tf's variable of the token secret."""
    text = MAIN_TF.read_text(encoding="utf-8")
    if SECRET_VARIABLE in text:
        at = text.index(SECRET_VARIABLE) + len(SECRET_VARIABLE)
        text = text[:at] + f'\n  default     = "{secret}"' + text[at:]
        MAIN_TF.write_text(text, encoding="utf-8")


def free_vmid(api: Any) -> int:
    """The cluster's next free VMID that no file of the workspace declares already."""
    taken = declared_vmids()
    vmid = int(api.cluster.nextid.get())
    while vmid in taken:
        vmid += 1
    return vmid


def create_state_db() -> None:
    """An empty ``state.db`` with the contract schema. It is made by the package's models once per version of
    them and copied after that: importing SQLAlchemy would cost each console start a second."""
    from importlib.util import find_spec

    spec = find_spec("pytest_proxmox_mpc.workspace.statedb.models")
    assert spec is not None and spec.origin is not None
    digest = hashlib.sha256(Path(spec.origin).read_bytes()).hexdigest()[:16]
    template = Path(tempfile.gettempdir()) / f"mpc-console-double-state-{digest}.db"
    if not template.is_file():
        from pytest_proxmox_mpc.workspace.statedb.models import create_database

        made = template.with_name(f"{template.name}.{os.getpid()}")
        made.unlink(missing_ok=True)
        create_database(made).dispose()
        os.replace(made, template)  # consoles starting at once each see a whole template
    with template.open("rb") as source, STATE_DB.open("xb") as target:
        shutil.copyfileobj(source, target)


def rows(table: str) -> list[tuple[Any, ...]]:
    if not STATE_DB.exists():
        return []
    with sqlite3.connect(f"file:{STATE_DB}?mode=ro", uri=True) as conn:
        return list(conn.execute(f"SELECT id, name FROM {table} ORDER BY id"))


def declared_vmids() -> set[int]:
    return {int(m) for path in Path("terraform").rglob("*.tf")
            for m in re.findall(r"^\s*(?:vmid|vm_id)\s*=\s*(\d+)", path.read_text(encoding="utf-8"), re.M)}
