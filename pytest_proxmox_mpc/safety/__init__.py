"""What may leave the process, decided: the phase policy and the exclusion list, the ledger that remembers what the
run created, the audit trail (one line per request), redaction that keeps secrets out of everything kept, the
network block and the incident file of an abort. The guard that enforces the decisions is ``cluster.guard``.

May import: ``model``, ``files``, ``errors``. No pytest.
"""
