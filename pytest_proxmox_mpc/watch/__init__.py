"""Check before, watch during, verify after: the gates before the first write, the abort triggers after each test
(usage, connectivity, a corrupt local database), and the drift between the snapshots before and after the run.

May import: ``cluster``, ``errors``, ``recording``, ``run``, ``safety``, ``guests.factory`` (the plugin's tag),
``workspace.statedb``. pytest only in ``fixtures.py``.
"""
