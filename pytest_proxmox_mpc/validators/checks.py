"""The workspace checks of the validation suite, as data: one registry for the suite and its mutation tests.

Each ``WorkspaceCheck`` runs validators on a workspace directory against the cluster's ``Inventory`` and
returns findings. ``validation/`` runs each as a test (so a user sees one test per concern, marked with
the seed criteria it evidences); ``tests/test_mutations.py`` runs all of them on defective workspaces.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..cluster.inventory import Inventory
from . import database
from .ansible import check_ansible, lint_ansible
from .findings import Finding
from .secrets import check_no_secrets
from .terraform import check_terraform


@dataclass(frozen=True)
class CheckContext:
    """What some checks need besides the workspace: secrets to look for, a scratch directory of their own, and
    where ansible-lint results may be kept for the same content (None: lint every time)."""

    scratch: Path
    secrets: tuple[str, ...] = field(default=(), repr=False)
    lint_cache: Path | None = None


Run = Callable[[Path, Inventory, CheckContext], list[Finding]]


@dataclass(frozen=True)
class WorkspaceCheck:
    """A named check of one concern; ``criteria`` are the seed criteria it gives evidence for."""

    name: str
    area: str  # sync (state.db) or iac (terraform, ansible)
    criteria: tuple[str, ...]
    run: Run
    slow: bool = False  # runs a tool (ansible-lint): seconds, not milliseconds


def _db(path: Path) -> Path:
    return path / ".proxmox" / "state.db"


def _only(fields: tuple[str, ...], check: Callable[[Path, Inventory], list[Finding]], negate: bool = False) -> Run:
    def run(path: Path, inventory: Inventory, context: CheckContext) -> list[Finding]:
        return [f for f in check(path, inventory) if (f.field.split(" ")[0] in fields) != negate]
    return run


TF_FILE_FIELDS = ("file", "syntax", "location")
TF_PROVIDER_FIELDS = ("required_providers", "version", "block", "default", "sensitive")
TF_NAME_FIELDS = ("label",)
TF_IMPORT_FIELDS = ("import",)
TF_GUEST_FIELDS = TF_FILE_FIELDS + TF_PROVIDER_FIELDS + TF_NAME_FIELDS + TF_IMPORT_FIELDS

WORKSPACE_CHECKS: tuple[WorkspaceCheck, ...] = (
    WorkspaceCheck("database-schema", "sync", ("p1-schema",), lambda p, i, c: database.check_schema(_db(p))),
    WorkspaceCheck("database-rows", "sync", ("p2-sync", "p2-accurate"),
                   lambda p, i, c: database.check_database(_db(p), i)),
    WorkspaceCheck("database-foreign-keys", "sync", ("p2-state-tracking",),
                   lambda p, i, c: database.check_foreign_keys(_db(p))),
    WorkspaceCheck("database-encodings", "sync", ("p1-schema",), lambda p, i, c: database.check_encodings(_db(p))),
    WorkspaceCheck("database-snapshots", "sync", ("p2-state-tracking",), lambda p, i, c: database.check_snapshots(
        _db(p), {vmid: ("discovered", "created", "updated") for vmid in i.guests})),
    WorkspaceCheck("database-backup-restore", "sync", ("p2-state-tracking",),
                   lambda p, i, c: database.backup_round_trip(_db(p), c.scratch / "restored.db")),
    WorkspaceCheck("terraform-files-parse-and-load", "iac", ("p2-iac-valid",),
                   _only(TF_FILE_FIELDS, check_terraform)),
    WorkspaceCheck("terraform-provider-and-variables", "iac", ("p2-iac-valid",),
                   _only(TF_PROVIDER_FIELDS, check_terraform)),
    WorkspaceCheck("terraform-resource-names", "iac", ("p2-iac-valid",), _only(TF_NAME_FIELDS, check_terraform)),
    WorkspaceCheck("terraform-one-resource-per-guest", "iac", ("p2-accurate", "p2-iac-valid"),
                   _only(TF_GUEST_FIELDS, check_terraform, negate=True)),
    WorkspaceCheck("terraform-imports-existing-guests", "iac", ("p2-iac-valid",),
                   _only(TF_IMPORT_FIELDS, check_terraform)),
    WorkspaceCheck("no-plaintext-secrets", "iac", ("p2-iac-valid", "p2-no-impact"),
                   lambda p, i, c: check_no_secrets(p, c.secrets)),
    WorkspaceCheck("ansible-inventory-and-playbook-targets", "iac", ("p2-accurate", "p2-iac-valid"),
                   lambda p, i, c: check_ansible(p, i)),
    WorkspaceCheck("ansible-lint-offline", "iac", ("p2-iac-valid",),
                   lambda p, i, c: lint_ansible(p / "ansible", c.scratch, c.lint_cache), slow=True),
)


def checks_of(area: str) -> list[WorkspaceCheck]:
    """The checks of ``area`` (``sync`` or ``iac``), in order."""
    return [check for check in WORKSPACE_CHECKS if check.area == area]
