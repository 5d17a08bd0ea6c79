"""pytest-proxmox-mpc: validate Proxmox VE tooling against a production cluster with zero production risk.

The pytest plugin itself lives in ``pytest_proxmox_mpc.plugin`` (loaded through the ``pytest11`` entry
point). This module is the reuse API: what another project imports to read a cluster, police a client, make
temporary guests, sync and export a workspace, validate it and put a safety proxy in front of a tool. Every
name here is documented and stays; anything reached through a subpackage is internal and may move. The
validators are public too, in ``pytest_proxmox_mpc.validators``.
"""

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
from .recording.hooks import Recording
from .report.criteria import CRITERIA, LATENCY_BUDGET_MS
from .safety.audit import new_run_id
from .safety.exclusions import ExclusionList, GuestFacts
from .safety.guard import Guard, police
from .safety.incident import ABORT_EXIT_CODE, UNINTENDED_CHANGE_EXIT_CODE
from .safety.ledger import Ledger, LedgerFile
from .safety.lookup import ClusterLookup
from .safety.policy import LOGIN_PATH, ApiRequest, Decision, PhasePolicy, Policy, ReadOnlyPolicy
from .safety.trail import AuditTrail, AuditView
from .stash import workspace_checks
from .validators import CheckContext, Finding, WorkspaceCheck
from .workspace.builder import Workspace
from .workspace.export.ansible import export_ansible
from .workspace.export.iac import export_iac
from .workspace.export.terraform import export_terraform
from .workspace.sync import SyncResult, sync_database, sync_inventory

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
    "StorageInfo",
    "SyncError",
    "SyncResult",
    "Target",
    "TargetUnavailable",
    "TaskFailed",
    "TaskTimeout",
    "TempGuest",
    "UnsupportedClient",
    "VmidAllocator",
    "Workspace",
    "WorkspaceCheck",
    "__version__",
    "connect",
    "connect_checked",
    "derive",
    "export_ansible",
    "export_iac",
    "export_terraform",
    "load_schema",
    "new_run_id",
    "open_proxy",
    "police",
    "read_inventory",
    "resolve",
    "sync_database",
    "sync_inventory",
    "workspace_checks",
]
