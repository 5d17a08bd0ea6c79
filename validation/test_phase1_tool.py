"""Phase 1, the system under test (``--mpc-console``/``--mpc-cli`` with ``--mpc-profile``): ``init`` in a fresh
workspace (the secret shown nowhere, the workspace kept by the console that made it), ``status``, the CLI's
connection test and discovery, and a ``sync --dry-run`` that must leave the workspace exactly as it was.

The tool talks to the phase 1 safety proxy with the proxy's own API token: it can only read. Without a tool to
drive, every test here is skipped with that reason.
"""

from __future__ import annotations

import re

import pytest
import yaml

from pytest_proxmox_mpc import read_inventory
from pytest_proxmox_mpc.sut import ToolDriver

from .toolsteps import ran, run_other_steps, started, tail

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


def test_the_console_keeps_its_workspace_after_init(mpc_tool: ToolDriver) -> None:
    """The plan's step 2: ``/init`` then ``/status`` in the same console session, as a person types them."""
    mpc_tool.available("status")
    run = mpc_tool.init(restart=False)
    assert run.succeeded, f"init: {run.outcome}: {run.reason}\n    {tail(run)}"
    status = mpc_tool.step("status")
    assert status.succeeded, (
        f"after {run.command!r} succeeded, the same console session answers {status.command!r} with "
        f"{status.outcome} ({status.reason}): the console lost the workspace it had just made (a restart sees it)"
        f"\n    {tail(status)}")


def test_status_reports_a_connection_to_the_cluster(mpc_tool: ToolDriver) -> None:
    started(mpc_tool, "status")
    ran(mpc_tool, "status")


@pytest.mark.parametrize("step", ["test-connection", "list-nodes", "discover"])
def test_the_cli_reads_the_cluster_and_reports_what_it_found(mpc_tool: ToolDriver, step: str) -> None:
    """Each discovery step reports the cluster: every node and guest named, or (its ``counts`` in the profile)
    the numbers it says it found equal to the cluster's."""
    mpc_tool.available(step)
    run = ran(mpc_tool, step)
    inventory = read_inventory(mpc_tool.readonly, guest_configs=False, networks=False)
    found = {"nodes": len(inventory.nodes), "vms": len(inventory.vms), "containers": len(inventory.containers),
             "storages": len(inventory.storages)}
    profile_step = mpc_tool.profile.step(step)
    assert profile_step is not None
    wrong = []
    for kind, pattern in profile_step.counts.items():
        said = re.search(pattern, run.transcript)
        if said is None:
            wrong.append(f"it does not say how many {kind} it found (no line matching {pattern!r})")
        elif int(said[1]) != found[kind]:
            wrong.append(f"it says {said[0].strip()!r}: the cluster has {found[kind]} {kind}")
    assert not wrong, f"{run.command!r} reports success, but " + "; ".join(wrong) + f"\n    {tail(run)}"
    if step == "discover" and not profile_step.counts:
        missing = [vmid for vmid in sorted(inventory.guests) if not re.search(rf"\b{vmid}\b", run.transcript)]
        assert not missing, (f"{run.command!r} reports success, but names {len(missing)} of {len(inventory.guests)} "
                             f"guests not at all: {missing[:10]}")
    if step == "list-nodes":
        missing = [node for node in sorted(inventory.nodes) if not re.search(rf"\b{re.escape(node)}\b",
                                                                            run.transcript)]
        assert not missing, f"{run.command!r} reports success, but does not name the nodes {missing}"


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
