"""Fixtures for temporary guests: ``temp_vm`` and ``temp_ct`` factories (function, module and session
scope) that remove what they created on every way out of a test, and the sweep before the run.

Imported by ``plugin.py``, which is what registers them with pytest.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import pytest

from ..config.phases import DEFAULT_PHASE, WRITE_PHASE, phase_of_test
from ..errors import PreconditionMissing
from ..stash import RUN_KEY, TEST_FAILED
from ..watch.fixtures import require_gates
from .destroy import Timeouts
from .factory import FactoryContext, GuestFactory, TempGuest
from .sweeper import sweep_cluster

FACTORY_KINDS = {"temp_vm": "qemu", "temp_ct": "lxc"}
FACTORY_SCOPES = ("function", "module", "session")


class SkippingFactory(GuestFactory):
    """The factory a fixture hands out: a create the cluster lacks something for (a container template, a usable
    node, a free VMID: ``PreconditionMissing``) skips the test with the message, which says what to provide."""

    def __call__(self, node: str | None = None, **config: Any) -> TempGuest:
        __tracebackhide__ = True  # the skip names the line of the test that asked for the guest
        try:
            return super().__call__(node, **config)
        except PreconditionMissing as exc:
            pytest.skip(str(exc))


def _fixture_name(base: str, scope: str) -> str:
    return base if scope == "function" else f"{base}_{scope}"


def factory_fixture_names() -> list[str]:
    """``temp_vm``, ``temp_vm_module``, ``temp_vm_session`` and the same for ``temp_ct``."""
    return [_fixture_name(base, scope) for base in FACTORY_KINDS for scope in FACTORY_SCOPES]


@pytest.fixture(scope="session")
def _pve_factory_context(pytestconfig: pytest.Config) -> FactoryContext:
    run = pytestconfig.stash[RUN_KEY]
    settings = run.settings
    context = FactoryContext(run_id=run.run_id, ledger=run.ledger, ledger_file=run.ledger_file,
                             allocator=run.allocator,
                             exclusions=settings.exclusions, pool=settings.temp_pool,
                             timeouts=Timeouts(task=max(120.0, settings.timeout)))
    if run.recorder:
        context.remember, context.recall = run.recorder.remember, run.recorder.recall
    return context


@pytest.fixture(scope="session")
def _pve_writer(pytestconfig: pytest.Config, pve_readonly: Any, _pve_protected: frozenset[int]) -> Any:
    """The client of module- and session-scoped factories: the run's highest phase, this run's ledger."""
    run = pytestconfig.stash[RUN_KEY]
    return run.client(pve_readonly, run.settings.max_phase, _pve_protected)


def _make(base: str, scope: Literal["function", "module", "session"]) -> Any:
    name, kind = _fixture_name(base, scope), FACTORY_KINDS[base]

    def fixture(request: pytest.FixtureRequest, _pve_factory_context: FactoryContext) -> Iterator[GuestFactory]:
        run = request.config.stash[RUN_KEY]
        if run.settings.max_phase < WRITE_PHASE:
            pytest.skip(f"{name} creates guests: a phase 3 or 4 test (--pve-max-phase 3)")
        require_gates(request)  # a module or session factory may be set up before any test's own gate
        if scope == "function":
            phase = phase_of_test(request.node) or DEFAULT_PHASE
            if phase < WRITE_PHASE:
                pytest.fail(f"usage error: {name} creates guests, so the test must be phase3 or phase4, "
                            f"not phase{phase}", pytrace=False)
            client, test = request.getfixturevalue("pve_client"), request.node.nodeid
        else:
            client, test = request.getfixturevalue("_pve_writer"), (request.node.nodeid or None)
        factory = SkippingFactory(client, kind, _pve_factory_context, test=test)
        yield factory
        failed = request.node.stash.get(TEST_FAILED, False) if scope == "function" else (
            request.session.testsfailed > 0)
        problems = factory.cleanup(keep=failed and run.settings.keep_on_failure)
        if problems:
            pytest.fail("proxmox: temporary guests could not be removed (left for the sweeper): "
                        + "; ".join(problems), pytrace=False)

    fixture.__name__ = name
    fixture.__doc__ = (f"A factory of temporary {'VMs' if kind == 'qemu' else 'containers'} ({scope} scope): "
                       f"``{name}(node=None, **config)`` returns a ``TempGuest``; all of them are removed "
                       "when the scope ends, on every way out.")
    return pytest.fixture(scope=scope, name=name)(fixture)


temp_vm = _make("temp_vm", "function")
temp_vm_module = _make("temp_vm", "module")
temp_vm_session = _make("temp_vm", "session")
temp_ct = _make("temp_ct", "function")
temp_ct_module = _make("temp_ct", "module")
temp_ct_session = _make("temp_ct", "session")


@pytest.fixture(scope="session", autouse=True)
def _pve_sweep_before_run(request: pytest.FixtureRequest) -> None:
    """With ``--pve-sweep``: remove earlier runs' leftovers once, before the first test (worker gw0 only)."""
    run = request.config.stash[RUN_KEY]
    if not run.settings.sweep or run.worker_index != 0:
        return
    readonly = request.getfixturevalue("pve_readonly")
    settings = run.settings
    plan, failed = sweep_cluster(readonly, exclusions=settings.exclusions, temp_range=settings.temp_vmid_range,
                                   schema=run.schema, ledger_dir=run.files.ledger_dir, max_age=settings.sweep_age,
                                   trail=run.trail, current_run=run.run_id, recorder=run.recorder)
    for leftover in plan.remove:
        if leftover in failed:
            run.ledger_file.event("sweep-failed", vmid=leftover.vmid, line=leftover.failure(failed[leftover]))
        else:
            run.ledger_file.event("swept", vmid=leftover.vmid, node=leftover.node, type=leftover.type,
                                  of_run=leftover.run_id)
    for leftover in plan.left_alone:
        run.ledger_file.event("sweep-left-alone", vmid=leftover.vmid, line=leftover.line())
