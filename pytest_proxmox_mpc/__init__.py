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
from .guard import police
from .policy import ApiRequest, Decision, PhasePolicy, Policy, ReadOnlyPolicy
from .target import Target

__version__ = "0.1.0"

__all__ = [
    "ApiRequest",
    "Decision",
    "Endpoint",
    "ExclusionViolation",
    "PhasePolicy",
    "PhaseViolation",
    "Policy",
    "ReadOnlyPolicy",
    "ReadOnlyViolation",
    "SafetyViolation",
    "SettingsError",
    "Target",
    "TargetUnavailable",
    "UnsupportedClient",
    "__version__",
    "police",
]
