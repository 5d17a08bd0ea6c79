"""Talking to a cluster: proxmoxer clients whose every request passes the guard (``guard.py``: the policy decides,
the guard enforces, below the client and above the socket; proxmoxer's internals only in ``_proxmoxer.py``), the
reader that fills the ``model.Inventory`` with few requests (``inventory.py``, ``bulkread.py``), PVE tasks, where
the API schema comes from, and the drift check of recorded cassettes against the cluster (``cassettecheck.py``).

May import: ``recording`` (the guard records what it lets through), ``safety``, ``model``, ``files``, ``errors``.
No pytest (import-linter holds every room to the layers in pyproject.toml).
"""
