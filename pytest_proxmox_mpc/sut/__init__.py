"""The system under test driven as a user drives it: its console through a pseudo-terminal, its CLI as processes,
by a profile that says how to start it, answer its ``init`` and run each phase's steps, against the safety proxy.

May import: ``config``, ``errors``, ``proxy``, ``validators``, ``workspace``. pytest only in ``fixtures.py``.
"""
