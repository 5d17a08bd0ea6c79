"""Talking to a cluster: where it is (``Endpoint``), proxmoxer clients whose every request passes the guard
(proxmoxer's internals only in ``_proxmoxer.py``), the target a run talks to (sim, replay, live), the normalised
``Inventory``, PVE tasks, and the API schema the policy classifies writes with.

May import: ``config``, ``errors``, ``safety`` (the guard), ``recording`` (the replay endpoint), and ``sim`` only
lazily, when the sim target is chosen. pytest only in ``fixtures.py``.
"""
