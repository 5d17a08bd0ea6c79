"""The house's rules, checked: no import cycle between rooms, every room in the layers contract, a small public API
derived from one list, one base exception, and a validation suite that uses only public names.

(``lint-imports`` checks the layers themselves in CI; these tests hold what it cannot see, and run everywhere.)
"""

from __future__ import annotations

import ast
import inspect
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest

import pytest_proxmox_mpc
from pytest_proxmox_mpc import errors

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = pytest.importorskip("tomli")

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "pytest_proxmox_mpc"
PUBLIC_SUBPACKAGES = {"errors", "fixtures", "report", "sut", "validators", "workspace"}


def imported_modules(path: Path, package: str) -> Iterator[str]:
    """Every module of the package ``path`` imports, anywhere in it (functions and TYPE_CHECKING blocks too)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names)  # ``from . import x``: module x


def room_graph(root: Path) -> dict[str, set[str]]:
    """Room (a subpackage or top-level module of the package at ``root``) -> the other rooms it imports."""
    name = root.name
    graph: dict[str, set[str]] = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root).with_suffix("").parts
        if parts == ("__init__",):
            continue  # the package's own facade imports everything, lazily
        room = parts[0]
        package = ".".join([name, *parts[:-1]])  # what a relative import is relative to
        for module in imported_modules(path, package):
            pieces = module.split(".")
            if pieces[0] == name and len(pieces) > 1 and pieces[1] != room and (
                    (root / pieces[1]).is_dir() or (root / f"{pieces[1]}.py").exists()):
                graph.setdefault(room, set()).add(pieces[1])
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The rooms on import cycles, as strongly connected components of more than one room (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(room: str) -> None:
        index[room] = low[room] = len(index)
        stack.append(room)
        for other in sorted(graph.get(room, ())):
            if other not in index:
                visit(other)
                low[room] = min(low[room], low[other])
            elif other in stack:
                low[room] = min(low[room], index[other])
        if low[room] == index[room]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == room:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for room in sorted(graph):
        if room not in index:
            visit(room)
    return found


def test_no_import_cycle_between_rooms() -> None:
    assert cycles(room_graph(PACKAGE)) == []


def test_the_cycle_check_finds_a_cycle_hidden_behind_type_checking(tmp_path: Path) -> None:
    root = tmp_path / "pkg"
    for room in ("a", "b", "c"):
        (root / room).mkdir(parents=True)
        (root / room / "__init__.py").write_text("")
    (root / "__init__.py").write_text("")
    (root / "a" / "x.py").write_text("from ..b.y import thing\n")
    (root / "b" / "y.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..a import x\n")
    (root / "c" / "z.py").write_text("def late():\n    from pkg.a.x import thing\n")
    assert cycles(room_graph(root)) == [["a", "b"]]


def test_every_room_is_in_the_layers_contract() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    layers = next(contract for contract in config["contracts"] if contract["type"] == "layers")["layers"]
    in_layers = {name.strip().removeprefix("pytest_proxmox_mpc.") for layer in layers for name in layer.split("|")}
    rooms = {path.name for path in PACKAGE.iterdir() if (path / "__init__.py").exists()}
    modules = {path.stem for path in PACKAGE.glob("*.py") if path.stem != "__init__"}
    assert rooms | modules == in_layers


def test_every_room_says_what_it_holds() -> None:
    for init in PACKAGE.glob("*/__init__.py"):
        assert (ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or "").strip(), init


def test_the_public_api_is_small_and_derived_from_one_list() -> None:
    assert len(pytest_proxmox_mpc.__all__) <= 25
    assert set(pytest_proxmox_mpc.__all__) == {"__version__", *pytest_proxmox_mpc.PUBLIC}
    tree = ast.parse((PACKAGE / "__init__.py").read_text(encoding="utf-8"))
    typed = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.If)
             for inner in node.body if isinstance(inner, ast.ImportFrom) for alias in inner.names}
    assert typed == set(pytest_proxmox_mpc.PUBLIC), "the TYPE_CHECKING imports must name exactly PUBLIC"
    for name, module in pytest_proxmox_mpc.PUBLIC.items():
        value = getattr(pytest_proxmox_mpc, name)
        assert value.__module__ == "pytest_proxmox_mpc" + module, name
        assert (value.__doc__ or "").strip(), f"pytest_proxmox_mpc.{name} has no docstring"


def test_the_version_comes_from_the_package_metadata() -> None:
    assert pytest_proxmox_mpc.__version__ == version("pytest-proxmox-mpc")


def test_every_exception_the_package_raises_on_purpose_is_a_proxmox_mpc_error() -> None:
    raised = {name for path in PACKAGE.rglob("*.py") for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
              if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and isinstance(node.exc.func, ast.Name)
              for name in [node.exc.func.id] if hasattr(errors, name)}
    assert raised, "the package raises its own exceptions"
    for name, value in inspect.getmembers(errors, inspect.isclass):
        if value.__module__ == errors.__name__:
            assert issubclass(value, errors.ProxmoxMpcError), name


def test_the_validation_suite_imports_only_public_names() -> None:
    for path in (REPO / "validation").glob("*.py"):
        for module in imported_modules(path, "validation"):
            pieces = module.split(".")
            if pieces[0] != "pytest_proxmox_mpc" or len(pieces) == 1:
                continue
            if len(pieces) == 2 and pieces[1] in pytest_proxmox_mpc.__all__:
                continue  # from pytest_proxmox_mpc import <a public name>
            assert pieces[1] in PUBLIC_SUBPACKAGES, (path.name, module)
            if len(pieces) > 2:
                exported = __import__(f"pytest_proxmox_mpc.{pieces[1]}", fromlist=["_"])
                assert pieces[2] in getattr(exported, "__all__", dir(exported)), (path.name, module)
