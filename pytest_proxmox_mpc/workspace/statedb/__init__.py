"""Proxmox-MPC's ``.proxmox/state.db``: the contract as data (``contract.py``), its encodings as SQLAlchemy types
(``types.py``), and the SQLAlchemy 2 models with the read-only, read-write and new openers (``models.py``).

May import: ``errors``. No pytest.
"""
