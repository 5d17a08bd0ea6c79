"""The simulated cluster: fakepve (AGPL-3.0, the optional ``sim`` extra) served in this process or as a process of
its own, loaded with a scenario (``scenarios/``). fakepve is imported here and nowhere else, and only when a sim
is started.

May import: ``config``, ``errors``, ``cluster.endpoint``. No pytest.
"""
