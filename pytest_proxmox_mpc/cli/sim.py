"""``pytest-proxmox-mpc sim [SCENARIO]``: the simulated cluster as a process, the console equivalent of the sim
target. It serves the whole scenario (nodes, storages, pools, templates, guests; fakepve's own command line loads
only the guests) and the API viewer's schema, as a node does, on a loopback address until SIGINT or SIGTERM, and
prints the settings that point a run at it: with a read-only API token (role PVEAuditor) for phases 1 and 2, which
is what a run against a real cluster should use there, and with a token that may write for phases 3 and 4. fakepve
(the ``sim`` extra) is imported only here.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import tempfile
from pathlib import Path

from ..files.private import write_private
from ..model.secret import Secret
from ..proxy.relay import parse_listen
from ..sim import simulator_installed
from ..sim.cluster import READONLY_USER
from ..sim.scenario import packaged_scenarios, resolve_scenario
from .common import EXIT_DONE, Commands, add_listen, failure, stop_on_signals, usage

TOKEN_FILE = "token"  # the read-only token's secret
WRITE_TOKEN_FILE = "token-write"  # the secret of the token that may write


def add_parser(commands: Commands) -> argparse.ArgumentParser:
    sim = commands.add_parser("sim", help="serve the simulated cluster (fakepve with a whole scenario) as a process",
                              description="Serve the simulated cluster as a process until SIGINT or SIGTERM: "
                              "fakepve with the whole scenario and the API viewer's schema, logged in to with the "
                              f"read-only API token {READONLY_USER}!NAME (role PVEAuditor) for phases 1 and 2, or "
                              "with root@pam!NAME for phases 3 and 4, which write. Prints the settings (PVE_* "
                              "variables) that point a run at it as a live cluster.")
    sim.add_argument("scenario", nargs="?", default="homelab", metavar="SCENARIO",
                     help=f"a packaged scenario ({', '.join(packaged_scenarios())}) or a scenario file (default "
                     "homelab)")
    add_listen(sim)
    sim.add_argument("--token-name", default="sim", metavar="NAME",
                     help=f"the API tokens' name (default sim): {READONLY_USER}!NAME, read-only, whose secret is "
                     "PVE_TOKEN_VALUE if set, else made now, written to DIR/token; root@pam!NAME, which may write, "
                     "its secret made now and written to DIR/token-write")
    sim.add_argument("--workdir", type=Path, metavar="DIR",
                     help="where the certificate and the token file go (default: a new temporary directory, "
                     "removed when it stops)")
    return sim


def run(args: argparse.Namespace) -> int:
    try:
        host, port = parse_listen(args.listen)
    except ValueError as exc:
        return usage(f"--listen {exc}")
    try:
        scenario = resolve_scenario(args.scenario, Path.cwd())  # checked: ValueError names file and line
    except ValueError as exc:
        return usage(str(exc))
    if not simulator_installed():
        return usage("the simulated cluster needs fakepve, which is not installed: pip install "
                     "'pytest-proxmox-mpc[sim]'")
    from ..sim.cluster import SimCluster  # fakepve is imported only on this path

    made = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="pytest-proxmox-mpc-sim-")) if made else args.workdir
    given = os.environ.get("PVE_TOKEN_VALUE")
    readonly = Secret(given or secrets.token_urlsafe(24))
    writer = Secret(secrets.token_urlsafe(24))  # never the read-only token's: each token has a secret of its own
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        sim = SimCluster(scenario, workdir, token_name=args.token_name, token_value=writer, readonly_token=readonly,
                         host=host, port=port)
    except OSError as exc:  # the address is taken, the directory cannot be written
        return failure(f"cannot serve on {args.listen}: {exc.strerror or exc}")
    try:
        token_file, write_file = workdir / TOKEN_FILE, workdir / WRITE_TOKEN_FILE
        write_private(token_file, readonly.reveal() + "\n")
        write_private(write_file, writer.reveal() + "\n")
        reader, endpoint = sim.readonly_endpoint, sim.endpoint
        print(f"sim: https://{endpoint.netloc} (scenario {scenario})", flush=True)
        print(f"ca: {endpoint.verify}", flush=True)
        print(f"token: {reader.login_id}, read-only (role PVEAuditor), for phases 1 and 2 (its secret in "
              f"{token_file})", flush=True)
        print(f"token: {endpoint.login_id}, may write, for phases 3 and 4 (its secret in {write_file})", flush=True)
        print(f"export PVE_HOST={endpoint.netloc} PVE_CA_BUNDLE={endpoint.verify} PVE_USER={reader.user} "
              f"PVE_TOKEN_NAME={args.token_name} PVE_TOKEN_VALUE_FILE={token_file}", flush=True)
        # PVE_TOKEN_VALUE, when set, wins over PVE_TOKEN_VALUE_FILE: the writing token's line empties it.
        print(f"then, for phases 3 and 4: export PVE_USER={endpoint.user} PVE_TOKEN_VALUE_FILE={write_file}"
              + (" PVE_TOKEN_VALUE=" if given else ""), flush=True)
        with stop_on_signals() as stop:
            while not stop.wait(1.0):
                pass
    finally:
        sim.stop()
        if made:
            shutil.rmtree(workdir, ignore_errors=True)
    print("stopped", flush=True)
    return EXIT_DONE
