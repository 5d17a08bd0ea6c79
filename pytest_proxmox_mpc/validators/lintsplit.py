"""ansible-lint on a project in two parts: its playbooks against a stand-in inventory, and the inventory on its own.

ansible-lint judges each file by itself; the one thing its judgement of the playbooks, vars and config takes from
the inventory is the syntax check (``ansible-playbook --syntax-check``, once a playbook, a playbook ``site.yml``
imports once more), which loads the inventory ``ansible.cfg`` names. That load is nearly all of a large
project's lint (40 s and 780 MB a check for 10,000 hosts), yet what the check reports does not depend on the
hosts: ansible-lint reports a syntax check only when it fails, and it makes an unparsed inventory a warning
(``ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED=False``); a host pattern that matches nothing is a warning too; the
variables a syntax check templates a play with (``get_vars(play=...)``, no host) hold no inventory variable, only
the magic ones that list hosts and groups (``groups``, ``hostvars``, ``ansible_play_hosts``, ...). So the playbooks
are checked against a stand-in (``lintstandin``: the same groups, their variables and children, a host of each
group and every host a play names), at the same paths in a copy of the project; and the inventory is judged on its
own, by ansible-lint on the config files and the inventory alone (as YAML: no playbook, no syntax check), and by
the suite's own inventory checks. Every violation of the first outside the inventory, and every one of the second,
is what ansible-lint reports on the whole project.

Where that cannot be shown (``why_whole`` says why), the whole project is linted: no inventory named in
``ansible.cfg`` inside the project; Ansible told to fail on an unparsed inventory (``[inventory]
unparsed_is_failed`` and its variables); an inventory that is a folder, not YAML, an inventory plugin's config
(``plugin:``) or that does not load; vars plugins run as the inventory loads (``run_vars_plugins = start``); a
file outside the inventory that templates the magic variables above or the ``inventory_hostnames`` lookup, or names
an inventory file; a project in a git work tree (ansible-lint lints what git lists there, a copy lists all) or with
symbolic links (a copy of it might not be the same).
Nothing here imports pytest.
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
from pathlib import Path, PurePosixPath

from .loading import load_yaml

CONFIG_FILES = (".ansible-lint", ".ansible-lint.yml", ".ansible-lint.yaml", ".config/ansible-lint.yml",
                ".config/ansible-lint.yaml", ".yamllint", ".yamllint.yml", ".yamllint.yaml", "ansible.cfg")
"""What configures ansible-lint, yamllint and Ansible in a project: staged with the inventory."""
FAIL_ON_UNPARSED = (("unparsed_is_failed", "ANSIBLE_INVENTORY_UNPARSED_FAILED"),
                    ("any_unparsed_is_failed", "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED"))
OWN_FOLDERS = (".ansible", ".cache")  # what ansible-lint writes in a project itself
MAGIC = re.compile(r"\b(?:hostvars|groups|group_names|ansible_play_hosts(?:_all)?|ansible_play_batch|play_hosts|"
                   r"inventory_hostnames)\b")
JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
_TRUE = frozenset({"1", "true", "yes", "on", "y", "t"})


def _config(project: Path) -> configparser.ConfigParser | None:
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";", "#"), strict=False)
    try:
        parser.read_string((project / "ansible.cfg").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, configparser.Error):
        return None
    return parser


def inventory_sources(project: Path) -> tuple[str, ...]:
    """The inventory files and folders (relative, POSIX) that ``project/ansible.cfg`` names and the project
    holds; () when there is no such setting, it names nothing inside the project, the file does not parse,
    or Ansible is told to fail on an unparsed inventory (then the inventory is not judged apart)."""
    parser = _config(project)
    if parser is None:
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


def project_files(project: Path) -> list[str]:
    """Every file of the project (relative, POSIX), but for what ansible-lint writes there itself."""
    found = []
    for folder, folders, files in os.walk(project):
        if Path(folder) == project:
            folders[:] = [name for name in folders if name not in OWN_FOLDERS]
        found += [(Path(folder) / name).relative_to(project).as_posix() for name in files]
    return sorted(found)


def why_whole(project: Path, sources: tuple[str, ...]) -> str | None:
    """Why the project must be linted whole (see the module's docstring), or None when it may be split."""
    parser = _config(project)
    if not sources or parser is None:
        return "ansible.cfg names no inventory inside the project"
    plugins = os.environ.get("ANSIBLE_RUN_VARS_PLUGINS") or parser.get("defaults", "run_vars_plugins", fallback="")
    if str(plugins).strip().lower() == "start":
        return "vars plugins run as the inventory loads"
    if any(parent.joinpath(".git").exists() for parent in (project.resolve(), *project.resolve().parents)):
        return "the project is in a git work tree"
    if any(os.path.islink(Path(folder) / name) for folder, folders, files in os.walk(project)
           for name in (*folders, *files)):
        return "the project holds symbolic links"
    for source in sources:
        path = project / source
        if not path.is_file() or path.suffix not in (".yml", ".yaml"):
            return f"the inventory {source} is no YAML file"
        data, problem = load_yaml(path)
        if problem is not None or not isinstance(data, dict):
            return f"the inventory {source} does not load as a YAML inventory"
        if "plugin" in data:
            return f"the inventory {source} is an inventory plugin's config"
    names = {PurePosixPath(source).name for source in sources}
    for relative in project_files(project):
        if relative in CONFIG_FILES or in_sources(relative, sources):
            continue
        try:
            text = (project / relative).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue  # not text: nothing Ansible templates
        code = "\n".join(line.split(" #")[0] for line in text.splitlines() if not line.lstrip().startswith("#"))
        if any(MAGIC.search(template) for template in JINJA.findall(text)):
            return f"{relative} templates what the inventory holds (hosts, groups)"
        if any(name in code for name in names):
            return f"{relative} names the inventory file"
    return None


def _place(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)  # the same content, no copy: ansible-lint only reads the project's files
    except OSError:
        shutil.copyfile(source, target)


def stage(project: Path, sources: tuple[str, ...], into: Path) -> None:
    """Copy the config files and the inventory ``sources`` of ``project`` into ``into``, at the same paths."""
    for relative in (*CONFIG_FILES, *sources):
        source, target = project / relative, into / relative
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        elif source.is_file():
            _place(source, target)


def stage_with_standins(project: Path, standins: dict[str, str], into: Path) -> None:
    """``project`` at the same paths in ``into``, each inventory file of ``standins`` (relative path -> text)
    replaced by its stand-in."""
    for relative in project_files(project):
        if relative not in standins:
            _place(project / relative, into / relative)
    for relative, text in standins.items():
        (into / relative).parent.mkdir(parents=True, exist_ok=True)
        (into / relative).write_text(text, encoding="utf-8")
