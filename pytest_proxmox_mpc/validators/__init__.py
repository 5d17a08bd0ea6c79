"""Independent validators: a Proxmox-MPC workspace judged against the cluster's truth.

Each validator compares what a workspace holds (``.proxmox/state.db``, ``terraform/``, ``ansible/``) with an
``Inventory`` read from the cluster by the read-only client, never with the reference builder's output, so
the same checks judge any implementation (the Node.js Proxmox-MPC included). Each returns a list of
``Finding``: empty when the workspace is right; each finding names the resource and the field, what the
cluster says and what the workspace holds. Nothing here imports pytest, so other projects can call them.

May import: ``model`` (the cluster's truth), ``errors``, ``files`` (the lint cache's lock),
``recording.scan`` and ``safety.redact`` (what a secret looks like), ``workspace.statedb`` (the schema). No pytest.
"""

from __future__ import annotations

from .ansible import check_ansible, check_playbook_hosts, inventory_hosts
from .ansible_lint import LINT_OUTCOMES, lint_ansible, start_lint
from .ansible_plays import check_inventory_coverage, check_plays
from .ansible_templates import check_template_targets
from .checks import WORKSPACE_CHECKS, CheckContext, WorkspaceCheck, check_workspace, checks_of, prepare_checks
from .database import (
    backup_round_trip,
    check_database,
    check_encodings,
    check_foreign_keys,
    check_schema,
    check_snapshots,
    database_contents,
    expected_rows,
)
from .discovery import check_discovery
from .findings import Finding, describe
from .secrets import check_no_secrets
from .terraform import RESOURCE_TYPES, check_terraform, parse_terraform, resource_values, terraform_resources

__all__ = [
    "LINT_OUTCOMES",
    "RESOURCE_TYPES",
    "WORKSPACE_CHECKS",
    "CheckContext",
    "Finding",
    "WorkspaceCheck",
    "backup_round_trip",
    "check_ansible",
    "check_database",
    "check_discovery",
    "check_encodings",
    "check_foreign_keys",
    "check_inventory_coverage",
    "check_no_secrets",
    "check_playbook_hosts",
    "check_plays",
    "check_schema",
    "check_snapshots",
    "check_template_targets",
    "check_terraform",
    "check_workspace",
    "checks_of",
    "database_contents",
    "describe",
    "expected_rows",
    "inventory_hosts",
    "lint_ansible",
    "parse_terraform",
    "prepare_checks",
    "resource_values",
    "start_lint",
    "terraform_resources",
]
