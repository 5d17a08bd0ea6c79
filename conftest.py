"""Top-level conftest: the plugin's own tests drive inner pytest runs with pytester.

The plugin itself needs no conftest: it is loaded through its ``pytest11`` entry point.
"""

pytest_plugins = ["pytester"]
