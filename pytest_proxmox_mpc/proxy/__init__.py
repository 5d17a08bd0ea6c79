"""The safety proxy: a loopback HTTPS reverse proxy that puts the run's policy, audit trail and recorder in front of
any tool in another process (Proxmox-MPC, Terraform, Ansible), with credentials of its own (``auth.py``), its own
certificate (``tls.py``) and a threaded keep-alive server (``server.py``); the guests tools create through it
(``toolguests.py``).

May import: ``guests``, ``cluster``, ``recording``, ``safety``, ``model``, ``files``, ``errors``. No pytest (the
``pve_proxy`` fixture is ``fixtures.proxy``).
"""
