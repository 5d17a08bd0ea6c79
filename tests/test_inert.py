"""Installed but unused, the plugin changes nothing; without fakepve (the optional ``sim`` extra) only the tests
that need the simulated cluster say so, each in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# fakepve made unimportable for the process, as in an environment installed without the sim extra.
NO_FAKEPVE = '''
import sys


class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name == "fakepve" or name.startswith("fakepve."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _NotInstalled())
'''

PLAIN = """
def test_arithmetic():
    assert 1 + 1 == 2
"""

# What the plugin's start-up does not load: the database layer (SQLAlchemy, a third of a second) is imported by the
# features that read or write a state.db, not by every pytest run of a project that has the plugin installed.
LIGHT_START = """
import sys


def test_no_database_layer_was_loaded():
    assert "sqlalchemy" not in sys.modules
"""

USES_THE_CLUSTER = """
def test_version(pve_readonly):
    assert pve_readonly.version.get()
"""


def run_pytest(folder: Path, *args: str, fakepve: bool = True) -> subprocess.CompletedProcess[str]:
    """pytest in ``folder`` as its own process (fakepve hidden unless ``fakepve``), with no PVE_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PVE_")}
    plugins: tuple[str, ...] = ()
    if not fakepve:
        # pytest's assertion rewriter would import fakepve itself (it marks every pytest11 distribution's modules);
        # with entry points off, nothing but this plugin, loaded by name, knows of it.
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        plugins = ("-p", "pytest_proxmox_mpc.plugin")
    start = (NO_FAKEPVE if not fakepve else "") + "import sys, pytest\nsys.exit(pytest.main(sys.argv[1:]))\n"
    return subprocess.run([sys.executable, "-c", start, "-p", "no:cacheprovider", *plugins, *args], cwd=folder,
                          env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.slow
@pytest.mark.parametrize("fakepve", [True, False], ids=["with-fakepve", "without-fakepve"])
def test_a_project_that_does_not_use_the_plugin_sees_no_change(tmp_path: Path, fakepve: bool) -> None:
    (tmp_path / "test_plain.py").write_text(PLAIN)
    (tmp_path / "test_light.py").write_text(LIGHT_START)
    done = run_pytest(tmp_path, *(("-p", "no:benchmark") if fakepve else ()), fakepve=fakepve)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
    ours = [line for line in (done.stdout + done.stderr).splitlines()
            if "proxmox" in line.lower() and not line.startswith("plugins:")]  # pytest's own list of plugins
    assert ours == [], done.stdout + done.stderr
    assert "warning" not in done.stdout.lower(), done.stdout
    # Python's bytecode cache (``__pycache__``, written by pytest's assertion rewriting with or without this plugin,
    # unless PYTHONDONTWRITEBYTECODE is set) is not the plugin's doing.
    written = sorted(p.name for p in tmp_path.iterdir() if p.name != "__pycache__")
    assert written == ["test_light.py", "test_plain.py"], "files were written"


@pytest.mark.slow
def test_without_fakepve_a_test_that_needs_the_sim_fails_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "test_plain.py").write_text(PLAIN)
    (tmp_path / "test_cluster.py").write_text(USES_THE_CLUSTER)
    done = run_pytest(tmp_path, "-rA", fakepve=False)
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout + done.stderr
    assert "1 passed, 1 error" in done.stdout, done.stdout
    assert ("proxmox: the sim target (default) needs the simulated cluster, fakepve, which is not installed: "
            "pip install 'pytest-proxmox-mpc[sim]', or give --pve-host for a cluster of your own") in done.stdout
    assert "Traceback" not in done.stdout and "ModuleNotFoundError" not in done.stdout
