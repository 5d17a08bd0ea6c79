"""Settings: one table of every option (flag, ini key and its type, environment variable, default, parser),
resolved option > environment > ini key > default into a frozen ``Settings``; the four phases and their markers;
``Secret``, a string that will not show itself.

May import: ``errors``, ``files``, and two value parsers of other rooms (``safety.exclusions`` for the exclusion
file, ``sim.scenario`` for a scenario path; neither imports fakepve). No pytest.
"""
