"""The run report: the seed plan's success criteria judged from the run's records (``criteria.py``), the report
built as one dict and written as JSON and Markdown (``build.py``), and the reporter that assembles it at the end of
the run from every worker's files (``reporter.py``).

May import: ``cluster.endpoint``, ``errors``, ``files``, ``run``, ``safety``. pytest only in ``reporter.py``.
"""
