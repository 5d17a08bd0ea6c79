"""The Proxmox-MPC workspace: its state database (``statedb/``: the contract, the models, the encodings), the
reference sync of a cluster into it, the reference Terraform and Ansible export (``export/``), and the workspace
under test (built, copied from the user, or made by the user's command) with its fixture.

May import: ``cluster``, ``errors``, ``proxy`` (for a command's workspace). pytest only in ``fixtures.py``.
"""
