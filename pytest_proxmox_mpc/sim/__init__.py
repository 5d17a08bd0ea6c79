"""The simulated cluster: fakepve (AGPL-3.0, the optional ``sim`` extra) served in this process or as a process of
its own, loaded with a scenario (``scenarios/``). fakepve is imported here and nowhere else, and only when a sim
is started.

May import: ``model``, ``files``, ``errors``. No pytest.
"""

from __future__ import annotations

import importlib.util


def simulator_installed() -> bool:
    """True when fakepve can be imported (checked without importing it)."""
    try:
        return importlib.util.find_spec("fakepve") is not None
    except (ImportError, ValueError):  # a package that is there but cannot be imported counts as absent
        return False
