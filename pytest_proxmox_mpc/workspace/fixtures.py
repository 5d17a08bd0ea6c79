"""The ``mpc_workspace`` fixture: the Proxmox-MPC workspace the validation suite checks, made by the system
under test the user chose (reference builder, ``--mpc-workspace`` copy, or ``--mpc-command``, which runs
against the safety proxy, on any target with a cluster). Registered by ``plugin.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..cluster.target import TargetSession
from ..stash import RUN_KEY
from .builder import Connection, Workspace, build_reference, copy_workspace, run_command

COMMAND_PHASE = 2  # the phase of the safety proxy a --mpc-command talks to: it builds a workspace, it reads


def _connection(session: TargetSession, node: str) -> Connection:
    endpoint = session.endpoint
    return Connection(host=endpoint.host, port=endpoint.port, username=endpoint.user, node=node,
                      verify=endpoint.verify is not False)


def workspace_node(api: Any, rows: list[dict[str, Any]] | None = None) -> str:
    """The node a workspace is made for (the contract's ``node``): the first online one by name (the first of all
    when none is online: a workspace of an offline cluster still names a node). ``rows``: ``GET /nodes`` if read."""
    ordered = sorted(api.nodes.get() if rows is None else rows,
                     key=lambda row: (row.get("status") != "online", str(row["node"])))
    return str(ordered[0]["node"])


@pytest.fixture(scope="session")
def mpc_workspace(request: pytest.FixtureRequest, pytestconfig: pytest.Config,
                  tmp_path_factory: pytest.TempPathFactory, _pve_target_session: TargetSession,
                  ) -> Iterator[Workspace]:
    """The workspace under test, in a directory of this session's own (a user's workspace is copied). Its
    state database is watched: corrupt or unreadable after any test, it aborts the run."""
    run = pytestconfig.stash[RUN_KEY]
    settings = run.settings
    directory = tmp_path_factory.mktemp("mpc") / "workspace"
    if settings.mpc_workspace is not None:
        workspace = copy_workspace(settings.mpc_workspace, directory)
    elif settings.mpc_command is not None:
        workspace = _run_users_command(request, settings, directory)
        if workspace.command is not None and workspace.command.exit_status != 0:
            _record(run, workspace)
            pytest.fail(f"proxmox-mpc: {settings.mpc_command!r} exited with {workspace.command.exit_status}: "
                        + (workspace.command.output.strip().splitlines() or [""])[-1], pytrace=False)
    else:
        api = request.getfixturevalue("pve_readonly")
        workspace = build_reference(api, directory, _connection(_pve_target_session, workspace_node(api)),
                                    provider=settings.mpc_tf_provider)
    _record(run, workspace)
    stop_watching = request.getfixturevalue("pve_watch_database")(workspace.state_db)
    yield workspace
    stop_watching()


def _run_users_command(request: pytest.FixtureRequest, settings: Any, directory: Path) -> Workspace:
    """Run the user's command against the safety proxy of phase 2 (the tool reads; any write it tries is
    refused and fails the run's tests), with the proxy's own API token and CA; the real credentials stay with
    the proxy."""
    proxy = request.getfixturevalue("_pve_proxies").get(COMMAND_PHASE)
    connection = Connection(host=proxy.host, port=proxy.port, username=proxy.user, verify=True,
                            node=workspace_node(request.getfixturevalue("pve_readonly")), token_id=proxy.token_name)
    extra = {"NODE_EXTRA_CA_CERTS": str(proxy.cafile), "REQUESTS_CA_BUNDLE": str(proxy.cafile)}
    return run_command(settings.mpc_command, directory, connection, token_secret=proxy.token_value.reveal(),
                       timeout=max(300.0, settings.timeout * 10), extra_env=extra)


def _record(run: Any, workspace: Workspace) -> None:
    """Keep how the workspace was made for the run report."""
    run.files.write_worker_file("workspace", run.worker, workspace.to_dict())


@pytest.fixture(scope="session")
def pve_lint_cache(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where workspace checks keep ansible-lint results by content (``CheckContext.lint_cache``): the
    ``--pve-lint-cache`` directory, kept across runs; with ``--no-pve-lint-cache`` one of this run's own,
    shared by its xdist workers, so the same content is still linted once per run."""
    configured = pytestconfig.stash[RUN_KEY].settings.lint_cache
    if configured is not None:
        return Path(configured)
    base = tmp_path_factory.getbasetemp()
    return (base.parent if hasattr(pytestconfig, "workerinput") else base) / "lint-cache"
