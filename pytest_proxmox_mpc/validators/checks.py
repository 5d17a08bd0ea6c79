"""The workspace checks of the validation suite, as data: one registry for the suite and its mutation tests.

Each ``WorkspaceCheck`` runs validators on a workspace directory against the cluster's ``Inventory`` and
returns findings. ``validation/`` runs each as a test (so a user sees one test per concern, marked with
the seed criteria it evidences); ``tests/test_mutations.py`` runs all of them on defective workspaces.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..model.inventory import Inventory
from . import database, terraform
from .ansible import check_ansible
from .ansible_lint import lint_ansible, start_lint
from .ansible_plays import check_inventory_coverage, check_plays
from .ansible_templates import check_template_targets
from .findings import Finding
from .secrets import check_no_secrets


@dataclass(frozen=True)
class CheckContext:
    """What some checks need besides the workspace: secrets to look for, a scratch directory of their own, where
    ansible-lint results may be kept for the same content (None: lint every time), the vmids the run's
    exclusion list protects (no play may change them), and where ansible-lint finds Ansible collections (None:
    ``ANSIBLE_COLLECTIONS_PATH``, else the user's own)."""

    scratch: Path
    secrets: tuple[str, ...] = field(default=(), repr=False)
    lint_cache: Path | None = None
    protected: frozenset[int] = frozenset()
    collections: tuple[Path, ...] | None = None


Run = Callable[[Path, Inventory, CheckContext], list[Finding]]
Prepare = Callable[[Path, CheckContext], None]


@dataclass(frozen=True)
class WorkspaceCheck:
    """A named check of one concern; ``criteria`` are the seed criteria it gives evidence for."""

    name: str
    area: str  # sync (state.db) or iac (terraform, ansible)
    criteria: tuple[str, ...]
    run: Run
    slow: bool = False  # runs a tool (ansible-lint): seconds, not milliseconds
    prepare: Prepare | None = None  # starts the check's slow part in the background, for ``run`` to take


def _db(path: Path) -> Path:
    return path / ".proxmox" / "state.db"


def _tf(concern: terraform.Concern) -> Run:
    run = terraform.on_workspace(concern)
    return lambda path, inventory, context: run(path, inventory)


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
    WorkspaceCheck("terraform-files-parse-and-load", "iac", ("p2-iac-valid",), _tf(terraform.check_files),
                   prepare=lambda p, c: terraform.start_reading(p)),
    WorkspaceCheck("terraform-provider-and-variables", "iac", ("p2-iac-valid",), _tf(terraform.check_provider)),
    WorkspaceCheck("terraform-connection-hygiene", "iac", ("p2-iac-valid",), _tf(terraform.check_connection)),
    WorkspaceCheck("terraform-provider-schema", "iac", ("p2-iac-valid",), _tf(terraform.check_schema)),
    WorkspaceCheck("terraform-resource-names", "iac", ("p2-iac-valid",), _tf(terraform.check_names)),
    WorkspaceCheck("terraform-one-resource-per-guest", "iac", ("p2-accurate", "p2-iac-valid"),
                   _tf(terraform.check_guests)),
    WorkspaceCheck("terraform-settings-match-guest-config", "iac", ("p2-accurate", "p2-iac-valid"),
                   _tf(terraform.check_settings)),
    WorkspaceCheck("terraform-plan-replaces-no-guest", "iac", ("p2-accurate", "p2-iac-valid"),
                   _tf(terraform.check_replacements)),
    WorkspaceCheck("terraform-imports-existing-guests", "iac", ("p2-iac-valid",), _tf(terraform.check_imports)),
    # a leaked secret makes the IaC invalid; whether production was touched is judged from requests and drift
    WorkspaceCheck("no-plaintext-secrets", "iac", ("p2-iac-valid",), lambda p, i, c: check_no_secrets(p, c.secrets)),
    WorkspaceCheck("ansible-inventory-and-playbook-targets", "iac", ("p2-accurate", "p2-iac-valid"),
                   lambda p, i, c: check_ansible(p, i) + check_template_targets(p, i)),
    WorkspaceCheck("ansible-inventory-covers-cluster", "iac", ("p2-accurate", "p2-iac-valid"),
                   lambda p, i, c: check_inventory_coverage(p, i)),
    WorkspaceCheck("ansible-plays-spare-production", "iac", ("p2-iac-valid",),
                   lambda p, i, c: check_plays(p, i, c.protected)),
    WorkspaceCheck("ansible-lint-offline", "iac", ("p2-iac-valid",),
                   lambda p, i, c: lint_ansible(p / "ansible", c.scratch, c.lint_cache, c.collections), slow=True,
                   prepare=lambda p, c: start_lint(p / "ansible", c.scratch, c.lint_cache, c.collections)),
)


def checks_of(area: str) -> list[WorkspaceCheck]:
    """The checks of ``area`` (``sync`` or ``iac``), in order."""
    return [check for check in WORKSPACE_CHECKS if check.area == area]


def prepare_checks(path: Path, context: CheckContext, checks: Iterable[WorkspaceCheck] = WORKSPACE_CHECKS) -> None:
    """The slow parts of ``checks`` (ansible-lint) started in the background on the workspace at ``path``, so that
    they run while the other checks do; each check's ``run`` takes its part (or does it afresh if the workspace
    changed meanwhile). Safe to call again: what is started or kept already is not started twice."""
    for check in checks:
        if check.prepare is not None:
            check.prepare(path, context)


def check_workspace(path: Path | str, inventory: Inventory, context: CheckContext | None = None,
                    checks: Iterable[WorkspaceCheck] = WORKSPACE_CHECKS) -> list[Finding]:
    """The findings of every check (``WORKSPACE_CHECKS``, or ``checks``) on the workspace at ``path`` against
    ``inventory``: empty when the workspace is right. ``context`` None: no secrets to look for, a scratch
    directory of its own, no lint cache. The slow checks start first, in the background (``prepare_checks``)."""
    path = Path(path)
    if context is None:
        with tempfile.TemporaryDirectory(prefix="pve-checks-") as scratch:
            return check_workspace(path, inventory, CheckContext(scratch=Path(scratch)), checks)
    chosen = list(checks)
    prepare_checks(path, context, chosen)
    return [finding for check in chosen for finding in check.run(path, inventory, context)]
