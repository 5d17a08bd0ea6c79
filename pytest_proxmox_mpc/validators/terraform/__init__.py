"""The Terraform of a workspace against the cluster: parsed with python-hcl2, never run.

What Terraform would load is worked out as Terraform does (``hclfiles``): the root module's files, each
module a ``module`` block calls with a local ``source`` (once per call, its variables bound), and the values
of variables and locals where they are literals. Each concern is its own check, so that one root cause is
one finding: ``layout`` (files parse and load, labels), ``provider`` (required provider, version against the
cluster's PVE, configuration, connection hygiene), ``schema`` (what the provider's table says it takes),
``guests`` (one resource per guest with its values, its settings and what it was made from (``origin``: a
template, a clone source, an OS template), nothing a plan would replace) and ``imports``. Every resource is judged
whether its directory is loaded or not (a loose directory's variables from the root module where only it declares
them), and every declared value whether ``lifecycle { ignore_changes }`` hides it from a plan or not.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ...model.inventory import Inventory
from ..findings import Finding
from .expressions import BLOCK
from .guests import check_guests, check_replacements, check_settings
from .hclfiles import (
    TfResource,
    TfWorkspace,
    blocks,
    clear_caches,
    read_root,
    read_terraform,
    start_reading,
)
from .imports import check_imports
from .layout import check_files, check_names, parse_problem
from .parsing import _parse_text
from .provider import CHECK, PROVIDER_SOURCES, check_connection, check_provider
from .schema import check_schema
from .values import (
    GIB,
    MIB,
    RESOURCE_TYPES,
    cluster_cores,
    cluster_disk_sizes,
    cluster_memory_mib,
    cluster_name,
    resource_values,
)

Concern = Callable[[TfWorkspace, Inventory], list[Finding]]
CONCERNS: tuple[Concern, ...] = (check_files, check_provider, check_connection, check_schema, check_names,
                                 check_guests, check_settings, check_replacements, check_imports)


def on_workspace(concern: Concern) -> Callable[[Path, Inventory], list[Finding]]:
    """``concern`` as a function of the workspace directory (``terraform/`` read and parsed on each call)."""
    def run(workspace: Path, inventory: Inventory) -> list[Finding]:
        tf = read_terraform(Path(workspace))
        return concern(tf, inventory) if tf.has_root or concern is check_files else []
    run.__doc__ = concern.__doc__
    return run


def check_terraform(workspace: Path, inventory: Inventory) -> list[Finding]:
    """Every Terraform concern at once: files, provider, connection, schema, names, guests, settings,
    replacements, imports."""
    tf = read_terraform(Path(workspace))
    if not tf.has_root:
        return check_files(tf, inventory)
    return [finding for concern in CONCERNS for finding in concern(tf, inventory)]


def parse_terraform(root: Path) -> tuple[dict[Path, dict[str, Any]], list[Finding]]:
    """Every ``.tf`` file below ``root`` (a ``terraform/`` directory) parsed, by path relative to it (a file
    that does not parse: the blocks that do), and one finding per file that does not parse."""
    tf = read_root(Path(root))
    broken = [Finding(CHECK, f"terraform/{path.as_posix()}", "syntax", note=parse_problem(problem))
              for path, problem in sorted(tf.broken.items())]
    return copy.deepcopy(tf.parsed), broken


def terraform_resources(parsed: Mapping[Path, Mapping[str, Any]]) -> list[TfResource]:
    """Every resource block of every parsed file (as ``parse_terraform`` returns them), loaded or not."""
    return [TfResource(path, path.parent.as_posix(), rtype, name, body if isinstance(body, dict) else {})
            for path, data in parsed.items() for rtype, named in blocks(data, "resource")
            for name, body in (named or {}).items() if name != BLOCK]


__all__ = ["GIB", "MIB", "PROVIDER_SOURCES", "RESOURCE_TYPES", "Concern", "TfResource", "TfWorkspace",
           "_parse_text",
           "check_connection", "check_files", "check_guests", "check_imports", "check_names", "check_provider",
           "check_replacements", "check_schema", "check_settings", "check_terraform", "clear_caches", "cluster_cores",
           "cluster_disk_sizes", "cluster_memory_mib", "cluster_name",
           "on_workspace", "parse_terraform", "read_terraform", "resource_values", "start_reading",
           "terraform_resources"]
