"""pytest-proxmox-mpc: validate Proxmox VE tooling against a production cluster with zero production risk.

The pytest plugin itself lives in ``pytest_proxmox_mpc.plugin`` (loaded through the ``pytest11``
entry point). This package exports what tests and other projects use directly.
"""

from .endpoint import Endpoint
from .errors import (
    ExclusionViolation,
    PhaseViolation,
    ReadOnlyViolation,
    SafetyViolation,
    SettingsError,
    TargetUnavailable,
    UnsupportedClient,
)
from .exclusions import ExclusionError, ExclusionList
from .guard import Guard, police
from .incident import ABORT_EXIT_CODE
from .ledger import Ledger
from .policy import ApiRequest, Decision, PhasePolicy, Policy, ReadOnlyPolicy
from .proxy import SafetyProxy, open_proxy
from .proxyauth import ProxyAccess, ProxyCredentials
from .target import Target
from .trail import AuditTrail, AuditView

__version__ = "0.1.0"

__all__ = [
    "ABORT_EXIT_CODE",
    "ApiRequest",
    "AuditTrail",
    "AuditView",
    "Decision",
    "Endpoint",
    "ExclusionError",
    "ExclusionList",
    "ExclusionViolation",
    "Guard",
    "Ledger",
    "PhasePolicy",
    "PhaseViolation",
    "Policy",
    "ProxyAccess",
    "ProxyCredentials",
    "ReadOnlyPolicy",
    "ReadOnlyViolation",
    "SafetyProxy",
    "SafetyViolation",
    "SettingsError",
    "Target",
    "TargetUnavailable",
    "UnsupportedClient",
    "__version__",
    "open_proxy",
    "police",
]
