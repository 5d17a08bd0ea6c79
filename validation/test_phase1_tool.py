"""Phase 1, the system under test (``--mpc-console``/``--mpc-cli`` with ``--mpc-profile``): ``init`` in a fresh
workspace, ``status``, discovery, and a ``sync --dry-run`` that must leave the workspace exactly as it was.

The tool talks to the phase 1 safety proxy with the proxy's own API token: it can only read. Without a tool to
drive, every test here is skipped with that reason.
"""

from __future__ import annotations

import re

import pytest
import yaml

from pytest_proxmox_mpc import ToolDriver

from .toolsteps import ran, run_other_steps, started

pytestmark = pytest.mark.phase1


def test_init_points_the_tool_at_the_proxy_and_the_secret_shows_nowhere(mpc_tool: ToolDriver) -> None:
    started(mpc_tool)
    pve_proxy = mpc_tool.access
    config_file = mpc_tool.workspace / ".proxmox" / "config.yml"
    assert config_file.is_file(), "init reports success, but wrote no .proxmox/config.yml"
    config = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
    assert (str(config.get("host")), str(config.get("port"))) == (pve_proxy.host, str(pve_proxy.port)), (
        f"init wrote host {config.get('host')!r} port {config.get('port')!r}, not the safety proxy's "
        f"{pve_proxy.host}:{pve_proxy.port}")
    leaks = mpc_tool.secret_leaks()
    assert not leaks, ("the token secret typed at the secret prompt is echoed or kept: it appears in "
                       + ", ".join(leaks))


def test_status_and_discovery_report_the_cluster(mpc_tool: ToolDriver) -> None:
    started(mpc_tool, "status", "discover")
    ran(mpc_tool, "status")
    run = ran(mpc_tool, "discover")
    vmids = sorted(int(row["vmid"]) for row in mpc_tool.readonly.cluster.resources.get(type="vm"))
    missing = [vmid for vmid in vmids if not re.search(rf"\b{vmid}\b", run.transcript)]
    assert not missing, (f"{run.command!r} reports success, but names {len(missing)} of {len(vmids)} guests not at "
                         f"all: {missing[:10]}")


def test_sync_dry_run_leaves_the_workspace_exactly_as_it_was(mpc_tool: ToolDriver) -> None:
    started(mpc_tool, "dry-run-sync")
    before = mpc_tool.snapshot()
    run = mpc_tool.step("dry-run-sync")
    found = mpc_tool.changes(before)
    assert not found, (f"{run.command!r} wrote to the workspace (a dry run that writes: the flag is ignored or not "
                       f"honoured; the tool said: {run.last_line()!r}); {len(found)} changes:\n    "
                       + "\n    ".join(found))


def test_the_profiles_other_phase1_steps(mpc_tool: ToolDriver) -> None:
    run_other_steps(mpc_tool, 1)
