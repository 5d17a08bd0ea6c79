"""The shims of a tool's processes: a folder with one small script per policed program, put first on the PATH of
every process the suite starts for the tool (and so of what they start).

Each shim is ``/bin/sh`` calling the run's own interpreter on ``programs.shim`` with its own path; beside them,
``shim.json`` (mode 0600: it holds the safety proxy's credentials, never the cluster's) tells where the proxy
listens and the PATH to find the real programs on. A file beside the shims, not environment variables: a tool
that hands its programs an environment of its own still runs the shims it finds, and they still find the proxy.
Nothing here imports pytest.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Iterable
from pathlib import Path

from ..files.private import write_private
from .judge import BUILTIN
from .verdict import CONFIG, PROGRAM_PATH

__all__ = ["CONFIG", "PROGRAM_PATH", "install_shims"]


def install_shims(folder: Path, *, url: str, cafile: Path, authorization: str, real_path: str,
                  extra: Iterable[str] = ()) -> Path:
    """Write the shims of the built-in programs and ``extra`` into ``folder``; the folder to put first on PATH.
    ``real_path`` is the PATH the real programs are found on (the shim folder is never on it)."""
    folder.mkdir(parents=True, exist_ok=True)
    shown = os.pathsep.join(d for d in real_path.split(os.pathsep) if d and Path(d).resolve() != folder.resolve())
    write_private(folder / CONFIG, json.dumps({"url": url + PROGRAM_PATH, "cafile": str(cafile),
                                               "authorization": authorization, "path": shown}))
    script = (f"#!/bin/sh\n# pytest-proxmox-mpc: this program's runs are judged by the run's safety policy\n"
              f"exec {shlex.quote(sys.executable)} -m pytest_proxmox_mpc.programs.shim \"$0\" \"$@\"\n")
    for program in sorted({*BUILTIN, *extra}):
        path = folder / program
        path.write_text(script, encoding="utf-8")
        path.chmod(0o755)
    return folder
