"""pytest-proxmox-mpc: validate Proxmox VE tooling against a production cluster with zero production risk.

The pytest plugin itself lives in ``pytest_proxmox_mpc.plugin`` (loaded through the ``pytest11`` entry
point). This module is the reuse API: what another project imports to read a cluster, police a client, make
temporary guests, sync and export a workspace, validate it and put a safety proxy in front of a tool. Every
name here is documented and stays; anything reached through a subpackage is internal and may move. The
validators are public too, in ``pytest_proxmox_mpc.validators``.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cluster.apischema import ApiSchema, load_schema
    from .cluster.client import connect, connect_checked, derive
    from .cluster.endpoint import Endpoint
    from .cluster.inventory import GuestInfo, Inventory, NodeInfo, StorageInfo, read_inventory
    from .cluster.target import Target
    from .config.phases import PHASES, Phase
    from .config.secret import Secret
    from .config.settings import PolicyAdjustment, RawSources, Settings, resolve
    from .errors import (
        CassetteError,
        DestroyFailed,
        ExclusionError,
        ExclusionViolation,
        GuestCreateFailed,
        PhaseViolation,
        PreconditionMissing,
        ProfileError,
        ReadOnlyViolation,
        SafetyViolation,
        SettingsError,
        StateDbError,
        SyncError,
        TargetUnavailable,
        TaskFailed,
        TaskTimeout,
        UnsupportedClient,
    )
    from .guests.factory import FactoryContext, GuestFactory, TempGuest, VmidAllocator
    from .proxy.auth import ProxyAccess, ProxyCredentials
    from .proxy.relay import SafetyProxy, open_proxy
    from .proxy.toolguests import cluster_vmids
    from .recording.layout import Recording
    from .report.criteria import CRITERIA, LATENCY_BUDGET_MS
    from .safety.audit import new_run_id
    from .safety.exclusions import ExclusionList, GuestFacts
    from .safety.guard import Guard, police
    from .safety.incident import ABORT_EXIT_CODE, UNINTENDED_CHANGE_EXIT_CODE
    from .safety.ledger import Ledger, LedgerFile
    from .safety.lookup import ClusterLookup
    from .safety.policy import LOGIN_PATH, ApiRequest, Decision, PhasePolicy, Policy, ReadOnlyPolicy
    from .safety.trail import AuditTrail, AuditView
    from .stash import settings_of, workspace_checks
    from .sut.driver import ToolDriver
    from .sut.profile import Profile, load_profile
    from .sut.snapshot import WorkspaceSnapshot
    from .sut.transcript import StepRun
    from .validators import CheckContext, Finding, WorkspaceCheck
    from .workspace.builder import Workspace
    from .workspace.export.ansible import export_ansible
    from .workspace.export.iac import export_iac
    from .workspace.export.terraform import export_terraform
    from .workspace.sync import SyncResult, sync_database, sync_inventory

_EXPORTS = {  # name -> the module that defines it (imported on first use: importing the package is cheap)
    "ABORT_EXIT_CODE": ".safety.incident",
    "cluster_vmids": ".proxy.toolguests",
    "ApiRequest": ".safety.policy",
    "ApiSchema": ".cluster.apischema",
    "AuditTrail": ".safety.trail",
    "AuditView": ".safety.trail",
    "CassetteError": ".errors",
    "CheckContext": ".validators",
    "ClusterLookup": ".safety.lookup",
    "connect": ".cluster.client",
    "connect_checked": ".cluster.client",
    "CRITERIA": ".report.criteria",
    "Decision": ".safety.policy",
    "derive": ".cluster.client",
    "DestroyFailed": ".errors",
    "Endpoint": ".cluster.endpoint",
    "ExclusionError": ".errors",
    "ExclusionList": ".safety.exclusions",
    "ExclusionViolation": ".errors",
    "export_ansible": ".workspace.export.ansible",
    "export_iac": ".workspace.export.iac",
    "export_terraform": ".workspace.export.terraform",
    "FactoryContext": ".guests.factory",
    "Finding": ".validators",
    "Guard": ".safety.guard",
    "GuestCreateFailed": ".errors",
    "GuestFactory": ".guests.factory",
    "GuestFacts": ".safety.exclusions",
    "GuestInfo": ".cluster.inventory",
    "Inventory": ".cluster.inventory",
    "LATENCY_BUDGET_MS": ".report.criteria",
    "Ledger": ".safety.ledger",
    "LedgerFile": ".safety.ledger",
    "load_profile": ".sut.profile",
    "load_schema": ".cluster.apischema",
    "LOGIN_PATH": ".safety.policy",
    "new_run_id": ".safety.audit",
    "NodeInfo": ".cluster.inventory",
    "open_proxy": ".proxy.relay",
    "Phase": ".config.phases",
    "PhasePolicy": ".safety.policy",
    "PHASES": ".config.phases",
    "PhaseViolation": ".errors",
    "police": ".safety.guard",
    "Policy": ".safety.policy",
    "PolicyAdjustment": ".config.settings",
    "PreconditionMissing": ".errors",
    "Profile": ".sut.profile",
    "ProfileError": ".errors",
    "ProxyAccess": ".proxy.auth",
    "ProxyCredentials": ".proxy.auth",
    "RawSources": ".config.settings",
    "read_inventory": ".cluster.inventory",
    "ReadOnlyPolicy": ".safety.policy",
    "ReadOnlyViolation": ".errors",
    "Recording": ".recording.layout",
    "resolve": ".config.settings",
    "SafetyProxy": ".proxy.relay",
    "SafetyViolation": ".errors",
    "Secret": ".config.secret",
    "Settings": ".config.settings",
    "SettingsError": ".errors",
    "StateDbError": ".errors",
    "StepRun": ".sut.transcript",
    "StorageInfo": ".cluster.inventory",
    "sync_database": ".workspace.sync",
    "sync_inventory": ".workspace.sync",
    "SyncError": ".errors",
    "SyncResult": ".workspace.sync",
    "Target": ".cluster.target",
    "TargetUnavailable": ".errors",
    "TaskFailed": ".errors",
    "TaskTimeout": ".errors",
    "TempGuest": ".guests.factory",
    "ToolDriver": ".sut.driver",
    "UNINTENDED_CHANGE_EXIT_CODE": ".safety.incident",
    "UnsupportedClient": ".errors",
    "VmidAllocator": ".guests.factory",
    "Workspace": ".workspace.builder",
    "settings_of": ".stash",
    "workspace_checks": ".stash",
    "WorkspaceCheck": ".validators",
    "WorkspaceSnapshot": ".sut.snapshot",
}


def __getattr__(name: str) -> Any:
    """The public names, each imported from its module when first asked for (PEP 562): a process that only
    needs one part (the sweeper, a fakepve process, the plugin in a project that does not use it) does not pay
    for SQLAlchemy, vcrpy and python-hcl2."""
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'pytest_proxmox_mpc' has no attribute {name!r}") from None
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__version__ = "0.1.0"

__all__ = [
    "ABORT_EXIT_CODE",
    "CRITERIA",
    "LATENCY_BUDGET_MS",
    "LOGIN_PATH",
    "PHASES",
    "UNINTENDED_CHANGE_EXIT_CODE",
    "ApiRequest",
    "ApiSchema",
    "AuditTrail",
    "AuditView",
    "CassetteError",
    "CheckContext",
    "ClusterLookup",
    "Decision",
    "DestroyFailed",
    "Endpoint",
    "ExclusionError",
    "ExclusionList",
    "ExclusionViolation",
    "FactoryContext",
    "Finding",
    "Guard",
    "GuestCreateFailed",
    "GuestFactory",
    "GuestFacts",
    "GuestInfo",
    "Inventory",
    "Ledger",
    "LedgerFile",
    "NodeInfo",
    "Phase",
    "PhasePolicy",
    "PhaseViolation",
    "Policy",
    "PolicyAdjustment",
    "PreconditionMissing",
    "Profile",
    "ProfileError",
    "ProxyAccess",
    "ProxyCredentials",
    "RawSources",
    "ReadOnlyPolicy",
    "ReadOnlyViolation",
    "Recording",
    "SafetyProxy",
    "SafetyViolation",
    "Secret",
    "Settings",
    "SettingsError",
    "StateDbError",
    "StepRun",
    "StorageInfo",
    "SyncError",
    "SyncResult",
    "Target",
    "TargetUnavailable",
    "TaskFailed",
    "TaskTimeout",
    "TempGuest",
    "ToolDriver",
    "UnsupportedClient",
    "VmidAllocator",
    "Workspace",
    "WorkspaceCheck",
    "WorkspaceSnapshot",
    "__version__",
    "cluster_vmids",
    "connect",
    "connect_checked",
    "derive",
    "export_ansible",
    "export_iac",
    "export_terraform",
    "load_profile",
    "load_schema",
    "new_run_id",
    "open_proxy",
    "police",
    "read_inventory",
    "resolve",
    "settings_of",
    "sync_database",
    "sync_inventory",
    "workspace_checks",
]
