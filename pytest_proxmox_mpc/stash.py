"""The keys under which the plugin keeps its state on pytest objects (one place, shared by its modules)."""

from __future__ import annotations

import pytest

from .run import Run

RUN_KEY = pytest.StashKey[Run]()  # on the config: this process's state of the run
TEST_FAILED = pytest.StashKey[bool]()  # on an item: a phase of the test failed
TEST_RAN = pytest.StashKey[bool]()  # on an item: its call phase ran (it was not skipped at setup)
USAGE_ERROR = pytest.StashKey[str]()  # on an item: a usage problem found at collection, reported at setup
REFUSALS_REPORTED = pytest.StashKey[int]()  # on an item: refusals already turned into a failure
