"""An inventory judged as YAML, as ansible-lint judges a YAML file of its kind ``yaml``, without ansible-lint's loads.

For such a file (an inventory that loads: ``lintsplit.why_whole`` saw to it) ansible-lint's only rule is ``yaml``:
yamllint with ansible-lint's own yamllint settings (``ansiblelint.yaml_utils.load_yamllint_config``: the project's
``.yamllint`` over ansible-lint's defaults), each problem one match ``yaml[<rule>]: <Description>``, one a line and
description, sorted by line and description. The other rules judge playbooks, tasks, vars, meta and the like. But
before that rule ansible-lint reads the file with two YAML parsers and deep-copies it, three quarters of its time and
memory on a large inventory (68 s and 700 MB for 10,000 hosts; yamllint alone: 24 s and 240 MB). So this runs that
rule alone, and shows each match with ansible-lint's own PEP8 formatter and console: the lines are ansible-lint's.

Where ansible-lint would do more or other than that, it refuses (exit ``CANNOT``) and ansible-lint judges the
inventory on its own instead: a file its kinds do not call ``yaml`` (``inventory/**``, ``group_vars/**``, ...), a
``# noqa`` in it, a config that names kinds, tags, rule folders, skips or downgrades the yaml rule (its tags, or a
failure to load) or excludes the file, the ``min`` profile (no yaml rule), ``quiet``, or ``ANSIBLE_LINT_*`` in the
environment. Run as this file (``python lintyaml.py FILE...``, by path: no package of ours is imported) in the
project's folder; it imports ansible-lint (a fraction of a second). Nothing here imports pytest.
"""

from __future__ import annotations

import fnmatch
import os
import sys
from pathlib import Path, PurePosixPath
from types import SimpleNamespace
from typing import Any

CANNOT = 3
COMMAND = f"import runpy; runpy.run_path({__file__!r}, run_name='__main__')"
REFUSED_KEYS = ("kinds", "tags", "rulesdir", "use_default_rules", "quiet")


def _excluded(relative: str, patterns: list[Any]) -> bool:
    """Whether an ``exclude_paths`` entry may match ``relative`` (generously: a folder above it or a glob)."""
    path = PurePosixPath(relative)
    for pattern in (str(p).strip().removeprefix("./").rstrip("/") for p in patterns):
        if pattern and (fnmatch.fnmatch(relative, pattern) or PurePosixPath(pattern) in (path, *path.parents)
                        or fnmatch.fnmatch(relative, pattern + "/*")):
            return True
    return False


def why_not(files: list[str], config: dict[str, Any], yaml_names: set[str]) -> str | None:
    """Why ansible-lint's judgement of ``files`` (relative paths) under ``config`` may be more than its yaml rule."""
    from ansiblelint.file_utils import kind_from_path

    if any(name.startswith("ANSIBLE_LINT") for name in os.environ):
        return "ansible-lint is configured in the environment"
    refused = sorted(set(REFUSED_KEYS) & set(config))
    if refused:
        return f"the ansible-lint config sets {', '.join(refused)}"
    if str(config.get("profile")) == "min":
        return "the min profile has no yaml rule"
    for key in ("skip_list", "warn_list"):
        if any(str(entry).split("[")[0] in yaml_names for entry in config.get(key) or []):
            return f"the ansible-lint config's {key} names the yaml rule"
    for relative in files:
        if _excluded(relative, list(config.get("exclude_paths") or [])):
            return f"the ansible-lint config may exclude {relative}"
        if str(kind_from_path(Path(relative))) != "yaml":
            return f"ansible-lint's kind of {relative} is not yaml"
        if "noqa" in Path(relative).read_text(encoding="utf-8"):
            return f"{relative} holds a noqa comment"
    return None


def main() -> None:
    from ansiblelint.cli import load_config
    from ansiblelint.formatters import PEP8Formatter
    from ansiblelint.output import console, reconfigure
    from ansiblelint.rules.yaml_rule import YamllintRule
    from ansiblelint.yaml_utils import load_yamllint_config
    from yamllint.linter import run

    files = sys.argv[1:]
    config, _ = load_config(None, project_path=os.getcwd())
    reason = why_not(files, config, {"yaml", "load-failure", *YamllintRule.tags})
    if reason is not None:
        print(reason, file=sys.stderr)
        sys.exit(CANNOT)
    reconfigure(colored=False)  # as --nocolor does
    settings = load_yamllint_config(None)
    formatter = PEP8Formatter(os.getcwd(), True)
    found_any = False
    for relative in files:
        found: dict[tuple[int, str], str] = {}  # ansible-lint's matches are a set: one a line and description
        for problem in run(Path(relative).read_text(encoding="utf-8"), settings, filepath=Path(relative)):
            found.setdefault((problem.line, problem.desc.capitalize()), f"yaml[{problem.rule}]")
        for (line, message), tag in sorted(found.items()):
            console.print(formatter.apply(SimpleNamespace(  # type: ignore[arg-type]
                filename=relative, position=str(line), level="error", tag=tag, message=message)))
            found_any = True
    sys.exit(2 if found_any else 0)


if __name__ == "__main__":
    main()
