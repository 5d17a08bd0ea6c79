"""The ``pve_recording`` fixture: whether the running test records, replays or neither.
Registered by ``plugin.py`` (``FIXTURE_MODULES``).
"""

from __future__ import annotations

import pytest

from .layout import RECORDING_PLUGIN, Recording


@pytest.fixture
def pve_recording(request: pytest.FixtureRequest) -> Recording:
    """Whether this test records (``state == "recording"``), replays (``"replaying"``) or neither (``"off"``)."""
    hooks = request.config.pluginmanager.get_plugin(RECORDING_PLUGIN)  # registered only when the run records
    return Recording("off") if hooks is None else hooks.state_of(request.node)
