"""Record and replay: the recorder plays or records every request the guard lets through, one vcrpy cassette per
test or fixture (vcrpy's internals only in ``_vcr.py``); pseudonyms for ``--pve-anonymize``; the secret scan of
cassettes; what a cassette was recorded against and its format version (``provenance.py``), a cassette read as
plain data (``recorded.py``) and the shapes of answers (``shapes.py``), for the drift check. (The hooks that move
the recorder from cassette to cassette are ``fixtures.cassettes``.)

May import: ``safety`` (what is secret), ``model``, ``files``, ``errors``. No pytest.
"""
