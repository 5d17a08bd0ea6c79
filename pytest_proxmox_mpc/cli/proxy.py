"""``pytest-proxmox-mpc proxy``: the safety proxy in front of the cluster, for a tool in another process.

It serves until SIGINT or SIGTERM on a loopback HTTPS address with credentials of its own, policing every request
with the policy of ``--phase``; in phases 3 and 4 it hands tools VMIDs of the temporary range and removes the
guests they leave when it stops.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from ..cluster.client import connect_checked
from ..config.phases import WRITE_PHASE
from ..config.settings import Settings
from ..config.target import TargetSession, replay_endpoint
from ..errors import CassetteError, SettingsError, TargetUnavailable, one_line
from ..files.private import write_private
from ..guests.destroy import Timeouts
from ..proxy.relay import PROXY_CASSETTES, SafetyProxy, open_proxy, parse_listen, with_hint
from ..proxy.toolguests import summary_line
from ..recording.layout import cassette_name
from ..run import Run
from ..safety.audit import new_run_id
from ..safety.lookup import protected_vmids
from ..safety.network import block_non_loopback
from ..safety.policy import ReadOnlyPolicy
from .common import (
    CONNECTION,
    EXIT_DONE,
    EXIT_LEFT,
    Commands,
    add_listen,
    add_rootdir,
    add_settings,
    cannot_write_file,
    failure,
    not_a_folder,
    settings_of,
    stop_on_signals,
    usage,
)

SETTINGS = (*CONNECTION, "sim_scenario", "api_schema", "require_readonly_credentials", "exclusions",
            "temp_vmid_range", "temp_pool", "temp_network", "record_mode", "cassette_dir", "anonymize")


def add_parser(commands: Commands) -> argparse.ArgumentParser:
    proxy = commands.add_parser("proxy", help="the safety proxy: a loopback HTTPS endpoint that polices another "
                                "process's API requests (Node.js, Terraform, Ansible) with the plugin's policy",
                                description="Serve the safety proxy until SIGINT or SIGTERM: a loopback HTTPS "
                                "endpoint with credentials of its own that polices another process's API requests "
                                "with the policy of --phase, audits and (with --pve-record-mode) records them.")
    add_listen(proxy)
    proxy.add_argument("--phase", type=int, choices=(1, 2, 3, 4), default=1,
                       help="the phase whose policy every request passes (default 1: read-only)")
    proxy.add_argument("--credentials-file", type=Path, required=True, metavar="PATH",
                       help="where to write the proxy-only credentials (JSON, mode 0600; removed when it stops)")
    proxy.add_argument("--cassette", default="proxy", metavar="NAME",
                       help="with --pve-record-mode or the replay target: the cassette _proxy/NAME.yaml below the "
                       "cassette directory (default proxy)")
    add_rootdir(proxy, "gets the audit trail")
    add_settings(proxy, SETTINGS)
    return proxy


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; prints where, the CA file and the audit, never a secret."""
    try:
        listen = parse_listen(args.listen)
    except ValueError as exc:
        return usage(f"--listen {exc}")
    if problem := not_a_folder(args.rootdir, "--rootdir") or cannot_write_file(args.credentials_file,
                                                                               "--credentials-file"):
        return usage(problem)
    try:  # the phase as the run's highest, so the settings' rules for it apply (an exclusion list on live)
        settings = settings_of(args, args.rootdir, "from --phase", pve_max_phase=str(args.phase))
        run = Run.start(settings, args.rootdir, new_run_id(), "proxy")
    except SettingsError as exc:
        return usage(str(exc))
    logging.basicConfig(format="pytest-proxmox-mpc: %(message)s", level=logging.WARNING, stream=sys.stderr)
    with stop_on_signals() as stop:
        return _serve(args, settings, run, listen, stop)


def _serve(args: argparse.Namespace, settings: Settings, run: Run, listen: tuple[str, int],
           stop: threading.Event) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="pytest-proxmox-mpc-proxy-"))
    session = TargetSession(settings, workdir / "target")
    undo_block = block_non_loopback() if settings.target == "replay" else None
    cassette = f"{PROXY_CASSETTES}/{cassette_name(args.cassette)}"
    if run.recorder is not None:
        run.recorder.push(cassette, f"--cassette {args.cassette}")
    proxy, left = None, 0
    hint = (f"record it with: pytest-proxmox-mpc proxy --cassette {args.cassette} --pve-record-mode new_episodes "
            "(on the sim target or a live cluster)")
    try:
        # On replay a stand-in token: recorded requests match without their credentials, and nothing logs in.
        endpoint = replay_endpoint(settings, by_password=False) if settings.target == "replay" else session.endpoint
        api, version = connect_checked(endpoint, run.guard(ReadOnlyPolicy()))
        learnt = run.connected(endpoint, api, version)  # the API schema; a credentials warning
        try:
            protected = protected_vmids(api, settings.exclusions) if args.phase >= WRITE_PHASE else frozenset()
        except Exception as exc:  # unresolved, the exclusion list would let writes through: no proxy at all
            raise TargetUnavailable(f"cannot resolve the exclusion list against the cluster: {one_line(exc)}") from None
        tools = run.tool_guests() if args.phase >= WRITE_PHASE else None
        proxy = open_proxy(endpoint, api, run.proxy_guard(args.phase, api, protected), workdir / "proxy",
                           phase=args.phase, listen=listen, record_hint=hint, tools=tools)
        write_private(args.credentials_file, json.dumps(proxy.access.revealed(), indent=2) + "\n")
        print(f"proxy: {proxy.access.url} (phase {args.phase}, target {settings.target}, PVE {version})", flush=True)
        print(f"ca: {proxy.access.cafile}", flush=True)
        print(f"credentials: {args.credentials_file} (token {proxy.access.token_id}, user {proxy.access.user})",
              flush=True)
        print(f"audit: {run.files.audit}" + (f"; cassette: {settings.cassette_dir / cassette}.yaml"
                                             if run.recorder is not None else ""), flush=True)
        for line in learnt:
            print(line, flush=True)
        while not stop.wait(1.0):
            pass
    except TargetUnavailable as exc:
        return failure(exc)
    except CassetteError as exc:
        return failure(with_hint(exc, hint))
    except SettingsError as exc:  # read-only credentials required, and these could write
        return usage(str(exc))
    except OSError as exc:  # the address is taken, the credentials file cannot be written
        return usage(one_line(exc))
    finally:
        if proxy is not None:
            left = _remove_tool_guests(proxy, run, api, protected)
            proxy.stop()
            args.credentials_file.unlink(missing_ok=True)
        run.close()  # saves the cassette
        session.close()
        if undo_block is not None:
            undo_block()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"stopped after {proxy.requests} requests", flush=True)
    return EXIT_LEFT if left else EXIT_DONE


def _remove_tool_guests(proxy: SafetyProxy, run: Run, api: Any, protected: frozenset[int]) -> int:
    """When the console proxy stops: remove what tools created through it and left; how many are left."""
    if proxy.tools is None:
        return 0
    counts = proxy.tools.finish(None, api, run.client(api, proxy.phase, protected), Timeouts(), everything=True)
    print(summary_line({"proxy": counts}), flush=True)
    for problem in counts.problems:
        print(f"pytest-proxmox-mpc: left on the cluster (pytest-proxmox-mpc sweep removes it): {problem}",
              file=sys.stderr)
    return counts.left
