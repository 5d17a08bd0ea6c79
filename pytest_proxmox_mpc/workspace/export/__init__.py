"""The reference export: a workspace's Terraform (bpg or telmate) and Ansible written from one ``Inventory``. HCL
as text (``hcl.py``), a guest's config read for export (``guestconfig.py``) and the guests' names (``names.py``) are
shared by both. Exporters write; the validators (``pytest_proxmox_mpc.validators``) judge, and never import these.

May import: ``cluster.inventory``. No pytest.
"""
