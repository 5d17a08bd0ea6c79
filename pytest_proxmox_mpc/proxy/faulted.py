"""Faults that break the tool's connection to the safety proxy, as the proxy's server enacts them (the faults with a
status are answers like any other: ``cluster.guard`` gives them). Nothing here imports pytest."""

from __future__ import annotations

from ..faults import Injected
from .server import Broken

# An answer the size of a short guest list: a reset cuts it in the middle.
GUESTS = b'{"data":[' + b",".join(b'{"vmid":%d,"status":"running"}' % n for n in range(100, 140)) + b"]}"


def broken(fault: Injected) -> Broken:
    """``reset``: half of a 200 answer is sent, then the connection is reset; ``no-answer``: the connection is
    closed without a byte."""
    return Broken(200, "OK", [("Content-Type", "application/json;charset=UTF-8")], GUESTS,
                  cut=0.5 if fault.transport == "reset" else 0.0)
