"""What may leave the process: the phase policy and the exclusion list decide, the guard enforces (below the client,
above the socket), the ledger remembers what the run created, the audit trail writes one line per request, redaction
keeps secrets out of everything kept, the network block and the incident file of an abort.

May import: ``cluster`` (the API schema, proxmoxer's internals), ``config``, ``errors``, ``files``,
``recording.recorder`` (the guard records what it lets through). pytest only in ``fixtures.py``.
"""
