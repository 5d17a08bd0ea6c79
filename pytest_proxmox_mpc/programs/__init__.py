"""Programs a tool under test runs outside the PVE API (ssh, scp, sftp, rsync, ansible, ansible-playbook, terraform,
tofu, and those ``--pve-police-programs`` adds), policed: shims first on the tool's PATH ask the run's safety proxy,
which judges each run by the phase's rules against this run's temporary guests and audits it; the shim then runs the
real program (its host set limited where the rules say) or refuses with one line and a non-zero exit.

May import: ``guests`` and the rooms below it (``validators`` for inventories, ``safety``, ``files``). No pytest.
"""
