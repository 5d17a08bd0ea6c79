"""Which files of an Ansible project are its inventory, so that ansible-lint judges them apart from the rest.

A validation run lints one workspace per phase, and the phases differ in the inventory alone (the guests a
phase made are hosts of it). ansible-lint's judgement of the playbooks, vars and config does not depend on
the inventory's content: its rules judge each file by itself, and its syntax check
(``ansible-playbook --syntax-check``) loads the inventory that ``ansible.cfg`` names only to warn when a
host pattern matches nothing or the inventory cannot be parsed: warnings, not failures (a broken inventory
is reported once, against the inventory file, by ansible-lint's own load check). That holds unless Ansible
is told to fail on an unparsed inventory (``[inventory] unparsed_is_failed`` / ``any_unparsed_is_failed``
or their ``ANSIBLE_INVENTORY_*`` variables): then no split is made. So the violations of a whole-project
run outside the inventory stay valid for the same playbooks, vars and config with another inventory, and
the inventory is judged by ansible-lint on a project of its own: the config files and the inventory
(``stage``), with the same relative paths. Nothing here imports pytest.
"""

from __future__ import annotations

import configparser
import os
import shutil
from pathlib import Path, PurePosixPath

CONFIG_FILES = (".ansible-lint", ".ansible-lint.yml", ".ansible-lint.yaml", ".config/ansible-lint.yml",
                ".config/ansible-lint.yaml", ".yamllint", ".yamllint.yml", ".yamllint.yaml", "ansible.cfg")
"""What configures ansible-lint, yamllint and Ansible in a project: staged with the inventory."""
FAIL_ON_UNPARSED = (("unparsed_is_failed", "ANSIBLE_INVENTORY_UNPARSED_FAILED"),
                    ("any_unparsed_is_failed", "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED"))
_TRUE = frozenset({"1", "true", "yes", "on", "y", "t"})


def inventory_sources(project: Path) -> tuple[str, ...]:
    """The inventory files and folders (relative, POSIX) that ``project/ansible.cfg`` names and the project
    holds; () when there is no such setting, it names nothing inside the project, the file does not parse,
    or Ansible is told to fail on an unparsed inventory (then the inventory is not judged apart)."""
    cfg = project / "ansible.cfg"
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";", "#"), strict=False)
    try:
        parser.read_string(cfg.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, configparser.Error):
        return ()
    for option, variable in FAIL_ON_UNPARSED:
        if (parser.get("inventory", option, fallback="").strip().lower() in _TRUE
                or os.environ.get(variable, "").strip().lower() in _TRUE):
            return ()
    named = parser.get("defaults", "inventory", fallback="") or parser.get("defaults", "hostfile", fallback="")
    root = project.resolve()
    found = []
    for part in named.split(","):
        if not part.strip():
            continue
        where = (project / os.path.expanduser(part.strip())).resolve()
        if where.exists() and where != root and where.is_relative_to(root):
            found.append(where.relative_to(root).as_posix())
    return tuple(sorted(set(found)))


def in_sources(relative: str, sources: tuple[str, ...]) -> bool:
    """Whether ``relative`` (a POSIX path inside the project) is one of ``sources`` or below one."""
    path = PurePosixPath(relative)
    return any(path == PurePosixPath(source) or PurePosixPath(source) in path.parents for source in sources)


def judged_apart(relative: str, sources: tuple[str, ...]) -> bool:
    """What the inventory's own lint judges: the inventory, and the config files it is judged under."""
    return relative in CONFIG_FILES or in_sources(relative, sources)


def stage(project: Path, sources: tuple[str, ...], into: Path) -> None:
    """Copy the config files and the inventory ``sources`` of ``project`` into ``into``, at the same paths."""
    for relative in (*CONFIG_FILES, *sources):
        source, target = project / relative, into / relative
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        elif source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
