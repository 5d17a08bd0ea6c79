"""The Proxmox-MPC workspace: its state database (``statedb/``: the contract, the models, the encodings), the
reference sync of a cluster into it, the reference Terraform and Ansible export (``export/``), and the workspace
under test (built, copied from the user, or made by the user's command) with its fixture.

Public: the names of ``__all__``, each imported when first asked for (the sync loads SQLAlchemy, the export
python-hcl2). May import: ``cluster``, ``model``, ``errors``. No pytest (the fixture is in ``fixtures.workspace``).
"""

from .._exports import lazy_exports

PUBLIC = {
    "Workspace": ".builder",
    "SyncResult": ".sync",
    "sync_database": ".sync",
    "sync_inventory": ".sync",
    "export_iac": ".export.iac",
    "export_terraform": ".export.terraform",
    "export_ansible": ".export.ansible",
}
__all__ = list(PUBLIC)
__getattr__, __dir__ = lazy_exports(__name__, globals(), PUBLIC)
