"""Files only their owner may read: the proxy's credentials and private key, the incident files."""

from __future__ import annotations

import os
from pathlib import Path


def write_private(path: Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` with mode 0600, whatever the umask or the mode of a file already there; a
    symbolic link at ``path`` is refused (``O_NOFOLLOW``), so nothing is written through one."""
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(handle, "wb") as out:
        os.fchmod(out.fileno(), 0o600)
        out.write(data.encode("utf-8") if isinstance(data, str) else data)
