"""Wiring the recorder into pytest: which cassette is in use while a test or a fixture runs.

A test's requests go to ``<cassette dir>/<module path without .py>/<test name>.yaml``; the requests of
a session-scoped fixture (the login, an inventory, the sweep) to ``_session/<fixture>.yaml``, of a
module-scoped one to ``<module path>/_module/<fixture>.yaml``, during its setup and its teardown alike,
so a replayed run finds each answer where the recorded run left it, whichever test comes first.
Registered by ``plugin.py`` only when the run records or replays.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from ..cluster.tasks import set_sleep
from ..errors import CassetteError
from ..safety.network import block_non_loopback
from .layout import SESSION_DIR, Recording, cassette_name
from .recorder import Recorder


def _module_dir(node: pytest.Item | pytest.Collector) -> str:
    """``tests/test_x.py::...`` -> ``tests/test_x``: the folder of a test module's cassettes."""
    path, file_part = Path(node.path), node.nodeid.partition("::")[0]
    if path.is_relative_to(node.config.rootpath) and file_part.endswith(".py"):
        return str(Path(file_part).with_suffix(""))
    # A module outside the rootdir has no path of the rootdir's in its node ID: its folder's and its own name keep
    # the cassettes of two such modules apart, and give the installed validation suite (``pytest --pyargs
    # pytest_proxmox_mpc.validation``) the cassettes of a clone's ``pytest validation``.
    return f"{path.parent.name}/{path.stem}"


def test_cassette(item: pytest.Item) -> str:
    """``tests/test_x.py::TestA::test_b[1]`` -> ``tests/test_x/TestA.test_b_1``."""
    return _module_dir(item) + "/" + cassette_name(item.nodeid.partition("::")[2].replace("::", "."))


def fixture_cassette(fixturedef: Any, request: pytest.FixtureRequest) -> str:
    if fixturedef.scope == "session":
        return f"{SESSION_DIR}/{cassette_name(fixturedef.argname)}"
    return f"{_module_dir(request.node)}/_{fixturedef.scope}/{cassette_name(fixturedef.argname)}"


class RecordingHooks:
    """The hooks that move the recorder from cassette to cassette."""

    def __init__(self, recorder: Recorder, replay: bool) -> None:
        self.recorder = recorder
        self._pushed: set[int] = set()
        self._undo = block_non_loopback() if replay else None
        if replay or recorder.replaying_only:
            set_sleep(lambda seconds: None)  # recorded answers are all there: waiting gains nothing

    def state_of(self, item: pytest.Item) -> Recording:
        where = self.recorder.directory / (test_cassette(item) + ".yaml")
        mode = self.recorder.mode
        replaying = self.recorder.replaying_only or (mode == "once" and where.exists())
        return Recording("replaying" if replaying else "recording", mode, where)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None,
                                ) -> Generator[None, object, object]:
        self.recorder.push(test_cassette(item), item.nodeid)
        try:
            return (yield)
        finally:
            self.recorder.pop()
            self.recorder.save()

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(self, fixturedef: Any, request: pytest.FixtureRequest) -> Generator[None, object, object]:
        if fixturedef.scope == "function":
            return (yield)
        name = fixture_cassette(fixturedef, request)
        selector = getattr(getattr(request, "_pyfuncitem", None), "nodeid", request.node.nodeid)
        self.recorder.push(name, selector)
        try:
            result = yield
        finally:
            self.recorder.pop()

        def before_teardown() -> None:  # runs just before the fixture's own teardown (finalizers run LIFO)
            self.recorder.push(name, selector)
            self._pushed.add(id(fixturedef))
        fixturedef.addfinalizer(before_teardown)
        return result

    def pytest_fixture_post_finalizer(self, fixturedef: Any, request: pytest.FixtureRequest) -> None:
        if id(fixturedef) in self._pushed:
            self._pushed.discard(id(fixturedef))
            self.recorder.pop()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None],
                                  ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """A cassette problem is one line: which cassette, what is wrong, what to run. No traceback."""
        report = yield
        if call.excinfo is not None and call.excinfo.errisinstance(CassetteError):
            report.longrepr = f"proxmox: {call.excinfo.value}"
        return report

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.recorder.save()
        set_sleep(time.sleep)
        if self._undo is not None:
            self._undo()
