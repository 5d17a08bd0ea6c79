"""The cluster as data: the inventory (nodes, guests, storages, pools, networks) and the parsers of PVE's values,
the API schema the policy classifies writes with, where a cluster is and how to log in (``Endpoint``), ``Secret``
(a string that will not show itself) and the VMID ranges.

May import: ``files`` (reading an input file safely), ``errors``. No HTTP stack, no database, no pytest
(import-linter holds it to that): what only judges or writes a snapshot needs nothing else.
"""
