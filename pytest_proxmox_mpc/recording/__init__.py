"""Record and replay: the recorder plays or records every request the guard lets through, one vcrpy cassette per
test or fixture (vcrpy's internals only in ``_vcr.py``); pseudonyms for ``--pve-anonymize``; the secret scan of
cassettes. ``hooks.py`` moves the recorder from cassette to cassette as tests run.

May import: ``errors``, ``safety.policy`` and ``safety.redact`` (what is secret), ``safety.network``, ``cluster.tasks``.
pytest only in ``hooks.py`` and ``fixtures.py``.
"""
