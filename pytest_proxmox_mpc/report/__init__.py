"""The run report: the seed plan's success criteria judged from the run's records (``criteria.py``), the report
built as one dict and written as JSON and Markdown (``build.py``), and the reporter that assembles it at the end of
the run from every worker's files (``reporter.py``).

Public: the names of ``__all__`` (the criteria a test gives evidence for, with ``pve_criterion``). May import every
room below it. pytest only in ``reporter.py``.
"""

from .criteria import CRITERIA, LATENCY_BUDGET_MS
from .reporter import NOT_JUDGED_PROPERTY

__all__ = ["CRITERIA", "LATENCY_BUDGET_MS", "NOT_JUDGED_PROPERTY"]
