"""Settings: one table of every option (flag, ini key and its type, environment variable, default, parser),
resolved option > environment > ini key > default into a frozen ``Settings``; the four phases and their markers;
the target a run talks to (sim, replay, live: ``target.py``).

May import: ``sut`` (the profile setting), ``recording``, ``safety`` (the exclusion file), ``sim`` (the scenario
setting, and the sim target, which imports fakepve only when it starts), ``model``, ``files``, ``errors``. No pytest.
"""
