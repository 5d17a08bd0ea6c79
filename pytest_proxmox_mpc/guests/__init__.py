"""Temporary guests: the factory that creates VMs and containers in the temporary VMID range and puts them in the
ledger, their removal (stop, delete, confirm), the sweeper of earlier runs' leftovers, and the signal handling that
removes them on Ctrl-C and SIGTERM. (The ``temp_vm`` / ``temp_ct`` fixtures are ``fixtures.guests``.)

May import: ``cluster``, ``recording``, ``safety``, ``model``, ``files``, ``errors``. No pytest.
"""
