"""Where recordings live and what a test learns of them: cassette names, the placeholder host, and the
``Recording`` state. No vcrpy here, so the plugin can name cassettes without importing it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

RECORD_MODES = ("none", "once", "new_episodes", "all", "rewrite")  # vcrpy's, and "rewrite"

PLACEHOLDER = "https://pve.cassette.invalid:8006"  # the host every cassette holds instead of the cluster's
SESSION_DIR = "_session"  # cassettes of session-scoped fixtures, below the cassette directory
SCHEMA_CACHE_DIR = "pve-api-schema"  # below SESSION_DIR: the API schemas recordings were made with
RECORDING_PLUGIN = "proxmox_mpc_recording"  # the name the recording hooks are registered under


@dataclass(frozen=True)
class Recording:
    """What ``pve_recording`` tells a test: ``state`` is ``recording``, ``replaying`` or ``off``."""

    state: str
    mode: str | None = None
    cassette: Path | None = None


def cassette_name(text: str) -> str:
    """A file-system-safe name: anything but letters, digits, ``._-`` becomes ``_``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text) or "_"


def has_cassettes(directory: Path) -> bool:
    """True when ``directory`` holds a cassette (a ``.yaml`` file, in any folder below it)."""
    return directory.is_dir() and next(directory.rglob("*.yaml"), None) is not None
