"""The files of a run: the state directory at the rootdir with one file of each kind per run id, append-only
JSON-lines files that several processes write at once, and files only their owner may read.

May import: ``errors``. No pytest.
"""
