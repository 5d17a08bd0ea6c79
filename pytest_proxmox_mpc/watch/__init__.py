"""Check before, watch during, verify after: the gates before the first write, the abort triggers after each test
(usage, connectivity, a corrupt local database), and the drift between the snapshots before and after the run.

May import: ``run``, ``config``, ``guests`` (the plugin's tag), ``workspace`` (the state database), ``cluster``,
``recording``, ``safety``, ``model``, ``errors``. No pytest (the fixtures are ``fixtures.watch``).
"""
