"""Faults injected into the answers a tool (or the plugin's own client) gets: the kinds PVE users meet, each as PVE
answers it (``kinds``), and the rules that say which requests get which (``plan``). A faulted request is never sent
to the cluster: the guard answers it in the cluster's place (``cluster.guard``), the safety proxy breaks the
connection where the fault is a broken one (``proxy``).

May import: ``errors``. No pytest (the ``pve_fault`` marker and ``pve_faults`` fixture are ``fixtures.faults``).
"""

from .kinds import KINDS, Injected
from .plan import FaultPlan, FaultRule, parse_rule, parse_rules

__all__ = ["KINDS", "FaultPlan", "FaultRule", "Injected", "parse_rule", "parse_rules"]
