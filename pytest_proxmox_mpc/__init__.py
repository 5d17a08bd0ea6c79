"""pytest-proxmox-mpc: validate Proxmox VE tooling against a production cluster with zero production risk.

The pytest plugin lives in ``pytest_proxmox_mpc.plugin`` (loaded through the ``pytest11`` entry point). This
module is the Python API for another project, in the names of ``PUBLIC`` (and nothing else): connect to a
cluster under the policy of a phase, make temporary guests, put a safety proxy in front of a tool, read the
cluster, sync and export the reference workspace, judge any workspace, and the errors. These names keep their
meaning within a major version.

Public as well, with the names of their ``__all__``: ``pytest_proxmox_mpc.validators`` (every workspace check),
``pytest_proxmox_mpc.errors`` (every exception, all ``ProxmoxMpcError``), ``pytest_proxmox_mpc.sut`` (driving a
tool by its profile), ``pytest_proxmox_mpc.workspace`` (the reference builder) and ``pytest_proxmox_mpc.fixtures``
(what a ``conftest.py`` asks the plugin). Every other module is internal: it may change in any release.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from ._exports import lazy_exports

# The one list of the Python API: name -> the module that defines it (imported on first use).
PUBLIC = {
    "connect": ".session",
    "ClusterSession": ".session",
    "Endpoint": ".model.endpoint",
    "Secret": ".model.secret",
    "ExclusionList": ".safety.exclusions",
    "TempGuest": ".guests.factory",
    "SafetyProxy": ".proxy.relay",
    "Inventory": ".model.inventory",
    "GuestInfo": ".model.inventory",
    "read_inventory": ".cluster.inventory",
    "sync_database": ".workspace.sync",
    "export_iac": ".workspace.export.iac",
    "check_workspace": ".validators.checks",
    "Finding": ".validators.findings",
    "ProxmoxMpcError": ".errors",
    "SafetyViolation": ".errors",
    "PhaseViolation": ".errors",
    "ReadOnlyViolation": ".errors",
    "ExclusionViolation": ".errors",
    "InvalidInput": ".errors",
    "SettingsError": ".errors",
    "TargetUnavailable": ".errors",
}

if TYPE_CHECKING:  # for type checkers only (explicit re-exports); a test holds them to PUBLIC
    from .cluster.inventory import read_inventory as read_inventory
    from .errors import (
        ExclusionViolation as ExclusionViolation,
    )
    from .errors import (
        InvalidInput as InvalidInput,
    )
    from .errors import (
        PhaseViolation as PhaseViolation,
    )
    from .errors import (
        ProxmoxMpcError as ProxmoxMpcError,
    )
    from .errors import (
        ReadOnlyViolation as ReadOnlyViolation,
    )
    from .errors import (
        SafetyViolation as SafetyViolation,
    )
    from .errors import (
        SettingsError as SettingsError,
    )
    from .errors import (
        TargetUnavailable as TargetUnavailable,
    )
    from .guests.factory import TempGuest as TempGuest
    from .model.endpoint import Endpoint as Endpoint
    from .model.inventory import (
        GuestInfo as GuestInfo,
    )
    from .model.inventory import (
        Inventory as Inventory,
    )
    from .model.secret import Secret as Secret
    from .proxy.relay import SafetyProxy as SafetyProxy
    from .safety.exclusions import ExclusionList as ExclusionList
    from .session import (
        ClusterSession as ClusterSession,
    )
    from .session import (
        connect as connect,
    )
    from .validators.checks import check_workspace as check_workspace
    from .validators.findings import Finding as Finding
    from .workspace.export.iac import export_iac as export_iac
    from .workspace.sync import sync_database as sync_database

__version__: str  # read from the package metadata when first asked for (not at every pytest start: ~40 ms)
__all__ = ["__version__", *PUBLIC]
_public_name, __dir__ = lazy_exports(__name__, globals(), PUBLIC)


def __getattr__(name: str) -> Any:
    if name != "__version__":
        return _public_name(name)
    try:
        found = version("pytest-proxmox-mpc")
    except PackageNotFoundError:  # run from a source tree that was never installed
        found = "0+unknown"
    globals()[name] = found
    return found
