"""Large loads made once: ``.tf`` files parsed once per content, many of them in worker processes with the same
answers (a file that does not parse included), a failing worker's files parsed here; YAML loaded once per content and
shared, the garbage collector on again after each load."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from pytest_proxmox_mpc.validators import loading
from pytest_proxmox_mpc.validators.terraform import clear_caches, parseworkers, parsing, read_root

RESOURCE = 'resource "proxmox_virtual_environment_vm" "vm_{n}" {{\n  vm_id = {n}\n  name  = "vm-{n}"\n}}\n'
BROKEN = 'resource "proxmox_virtual_environment_vm" "broken" {\n  vm_id = = 1\n}\n'


def texts(count: int) -> list[str]:
    return [RESOURCE.format(n=100 + i) for i in range(count)]


def test_workers_answer_as_this_process_does_a_broken_file_included() -> None:
    many = [*texts(parseworkers.TEXTS_A_WORKER * 2), BROKEN]
    answers = parseworkers.parse_in_workers(many)
    assert answers[:-1] == [(True, parseworkers.parse(text)) for text in many[:-1]]
    ok, problem = answers[-1]
    with pytest.raises(Exception) as raised:
        parseworkers.parse(BROKEN)
    assert not ok and problem == parsing.first_line(raised.value)


def test_a_failing_worker_has_its_files_parsed_here(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parseworkers, "WORKER", ["-c", "import sys; sys.exit(3)"])
    many = texts(parseworkers.TEXTS_A_WORKER * 2)
    assert parseworkers.parse_in_workers(many) == [(True, parseworkers.parse(text)) for text in many]


def test_a_workspace_of_many_files_is_parsed_in_workers_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "terraform"
    (root / "vms").mkdir(parents=True)
    (root / "main.tf").write_text('module "vms" {\n  source = "./vms"\n}\n')
    for n, text in enumerate(texts(parseworkers.MIN_TEXTS)):
        (root / "vms" / f"vm_{n}.tf").write_text(text)
    (root / "vms" / "broken.tf").write_text(BROKEN)
    clear_caches()
    batches: list[int] = []
    real = parseworkers.parse_in_workers
    monkeypatch.setattr(parseworkers, "cores", lambda: 2)
    monkeypatch.setattr(parseworkers, "parse_in_workers", lambda todo: batches.append(len(todo)) or real(todo))
    first = read_root(root)
    again = read_root(root)
    assert batches == [parseworkers.MIN_TEXTS + 2], "every file once, in workers, and nothing the second time"
    assert again is first and len(first.parsed) == parseworkers.MIN_TEXTS + 2
    with pytest.raises(Exception) as raised:
        parseworkers.parse(BROKEN)
    assert first.broken == {Path("vms/broken.tf"): parsing.first_line(raised.value)}
    assert sorted(r.name for r in first.resources())[:2] == ["vm_100", "vm_101"]
    assert len(first.resources()) == parseworkers.MIN_TEXTS


def test_yaml_is_loaded_once_per_content_and_the_collector_stays_on(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yml"
    path.write_text("---\nall:\n  hosts:\n    web: {vmid: 101}\n")
    first, problem = loading.load_yaml(path)
    assert problem is None and loading.load_yaml(path)[0] is first, "the checks of a run share one load"
    path.write_text("---\nall:\n  hosts:\n    db: {vmid: 102}\n")
    assert loading.load_yaml(path)[0] == {"all": {"hosts": {"db": {"vmid": 102}}}}
    assert gc.isenabled()
    path.write_text("---\nall: [unclosed\n")
    assert loading.load_yaml(path)[0] is None and str(loading.load_yaml(path)[1]).startswith("not YAML at line 3:")
    assert gc.isenabled(), "a load that fails turns the collector on again too"
    path.write_bytes(b"\xff\xfe")
    assert loading.load_yaml(path) == (None, "not UTF-8 text")
