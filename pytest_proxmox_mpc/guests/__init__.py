"""Temporary guests: the factory that creates VMs and containers in the temporary VMID range and puts them in the
ledger, their removal (stop, delete, confirm), the sweeper of earlier runs' leftovers, and the ``temp_vm`` /
``temp_ct`` fixtures whose finalizers remove them on every path.

May import: ``cluster``, ``config``, ``errors``, ``safety``, ``watch.fixtures`` (the gates).
pytest only in ``fixtures.py``.
"""
