"""Bad input, table-driven: an existing workspace (``--mpc-workspace``) broken as workspaces get broken. The right
outcome is not a usage error but a finding: the check that judges the file fails with one line naming the file (and
its line, where the file has lines), the run ends as a failed run, with no traceback, no secret, and the user's
workspace is left as it was (the suite judges a copy). A file too large, or not a regular file, is one finding that
says so, not read (``tests/badinput.py``; the memory of a 200 MB file: ``benchmarks/large_file.py``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_proxmox_mpc.files.inputs import LIMITS, set_limit
from pytest_proxmox_mpc.validators.terraform import clear_caches, parse_terraform

from .badinput import FAILED, Mistake, check

BIN = Path(sys.executable).parent
SUITE = ("--pyargs", "pytest_proxmox_mpc.validation", "--pve-max-phase=2", "--mpc-workspace=ws", "-m", "phase2")


def tf(text: str | bytes) -> Callable[[Path], None]:
    return lambda ws: Path(ws, "terraform", "broken.tf").write_bytes(text if isinstance(text, bytes) else text.encode())


def inventory(text: str | bytes) -> Callable[[Path], None]:
    return lambda ws: Path(ws, "ansible", "inventory.yml").write_bytes(
        text if isinstance(text, bytes) else text.encode())


def state_db(content: bytes) -> Callable[[Path], None]:
    return lambda ws: Path(ws, ".proxmox", "state.db").write_bytes(content)


def state_db_folder(ws: Path) -> None:
    Path(ws, ".proxmox", "state.db").unlink()
    Path(ws, ".proxmox", "state.db", "inside").mkdir(parents=True)


def a_fifo(ws: Path) -> None:
    os.mkfifo(Path(ws, "terraform", "pipe.tf"))


def a_folder_named_tf(ws: Path) -> None:
    Path(ws, "terraform", "folder.tf").mkdir()


TF_CHECK, INVENTORY_CHECK = "terraform-files-parse-and-load", "ansible-inventory-and-playbook"
DB_CHECK = "database-schema"
BREAKS: dict[str, tuple[Callable[[Path], None], str, tuple[str, ...], str]] = {
    # name: (how the workspace breaks, -k of the check that judges it, more flags, what its one line says)
    "tf-not-utf8": (tf(b'resource "a" "b" {\n  name = "\xff"\n}\n'), TF_CHECK, (), "terraform/broken.tf: syntax"),
    "tf-unclosed-block": (tf('resource "a" "b" {\n  name = "x"\n'), TF_CHECK, (),
                          "terraform/broken.tf: syntax: does not parse"),
    "tf-binary": (tf(bytes(range(256)) * 4), TF_CHECK, (), "terraform/broken.tf: syntax"),
    "tf-too-large": (tf("# padding\n" * 2000), TF_CHECK, ("--mpc-max-file-size=0.01",),
                     "terraform/broken.tf: syntax: too large to judge: 19.53 KiB, over the 10.24 KiB limit of a "
                     "Terraform file"),
    "tf-a-fifo": (a_fifo, TF_CHECK, (), "terraform/pipe.tf: syntax: cannot be judged: not a regular file"),
    "tf-a-folder": (a_folder_named_tf, TF_CHECK, (), "terraform/folder.tf: syntax: cannot be judged: a directory"),
    "inventory-not-yaml": (inventory("all:\n  hosts: [unclosed\n"), INVENTORY_CHECK, (), "ansible/inventory.yml"),
    "inventory-not-utf8": (inventory(b"all:\n  hosts:\n    \xff:\n"), INVENTORY_CHECK, (), "ansible/inventory.yml"),
    "inventory-too-large": (inventory("# padding\n" * 5000), INVENTORY_CHECK, ("--mpc-max-file-size=0.01",),
                            "too large to judge"),
    "inventory-too-large-to-lint": (inventory("# padding\n" * 5000), "ansible-lint-offline",
                                    ("--mpc-max-file-size=0.01",), "ansible/inventory.yml: ansible-lint: not linted: "
                                    "too large to judge"),
    "state-db-not-sqlite": (state_db(b"this is not a database\n" * 100), DB_CHECK, (), ".proxmox/state.db"),
    "state-db-empty": (state_db(b""), DB_CHECK, (), ".proxmox/state.db"),
    "state-db-a-folder": (state_db_folder, DB_CHECK, (), ".proxmox/state.db"),
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace of the homelab scenario, as the reference builder writes it (state.db, Terraform, Ansible)."""
    workspace = tmp_path_factory.mktemp("built") / "ws"
    for step in ("sync", "export"):
        subprocess.run([BIN / "pytest-proxmox-mpc", "workspace", "--pve-target", "sim", step, str(workspace)],
                       check=True, cwd=workspace.parent, capture_output=True)
    return workspace


@pytest.mark.parametrize("name", sorted(BREAKS))
def test_a_broken_workspace_file_is_one_finding_naming_it(
        name: str, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, built: Path) -> None:
    breaks, selected, flags, says = BREAKS[name]
    shutil.copytree(built, pytester.path / "ws")
    breaks(pytester.path / "ws")
    check(Mistake(args=(*SUITE, "-k", selected, *flags), ret=FAILED, says=says), pytester, monkeypatch)


def test_a_file_over_the_limit_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "main.tf").write_text('resource "a" "b" {\n  name = "x"\n}\n' * 100)
    monkeypatch.setitem(LIMITS, "Terraform file", LIMITS["Terraform file"])
    clear_caches()
    assert parse_terraform(tmp_path)[1] == []
    set_limit("Terraform file", 1024)
    clear_caches()
    parsed, findings = parse_terraform(tmp_path)
    assert parsed == {}
    assert [str(finding) for finding in findings] == [
        "terraform: terraform/main.tf: syntax: too large to judge: 3.32 KiB, over the 1 KiB limit of a Terraform file "
        "(setting mpc_max_file_size)"]
