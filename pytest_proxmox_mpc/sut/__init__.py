"""The system under test driven as a user drives it: its console through a pseudo-terminal, its CLI as processes,
by a profile that says how to start it, answer its ``init`` and run each phase's steps, against the safety proxy.

Public: the names of ``__all__`` (a project drives its own tool with them). May import: ``errors``, ``proxy``,
``workspace``. No pytest (the fixtures are in ``fixtures.sut``).
"""

from ..proxy.toolguests import cluster_vmids
from .driver import ToolDriver
from .profile import Profile, load_profile, resolve_profile
from .snapshot import WorkspaceSnapshot
from .transcript import StepRun

# cluster_vmids: the guests on the cluster now, to see what a tool created or left
__all__ = ["Profile", "StepRun", "ToolDriver", "WorkspaceSnapshot", "cluster_vmids", "load_profile", "resolve_profile"]
