"""A stand-in for a YAML inventory, for ansible-lint's playbook checks (``lintsplit`` says why it suffices).

The same groups in the same tree, each with its variables; one host of each group that lists hosts (one already
kept for another group where the group has one, else its first), with the variables the inventory gives it there;
and every host a play names by name, where the inventory lists it. A group without hosts stays without, so a
pattern matches nothing where it matched nothing. A few hundred bytes where the inventory may be megabytes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from .lintsplit import CONFIG_FILES, in_sources, project_files
from .loading import load_yaml


class _Dumper(yaml.SafeDumper):
    """YAML as yamllint wants it (lists indented under their key): the stand-in is linted too, its findings dropped,
    but ansible-lint's summary of the playbooks' part should not count any."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def named_hosts(project: Path, sources: tuple[str, ...]) -> set[str]:
    """The names in the ``hosts`` patterns of the plays of ``project``'s YAML files (the inventory and config
    aside), wildcards and templates left out: a host a play names is kept in the stand-in."""
    names: set[str] = set()
    for relative in project_files(project):
        if relative in CONFIG_FILES or in_sources(relative, sources) or not relative.endswith((".yml", ".yaml")):
            continue
        data, problem = load_yaml(project / relative)
        for play in data if problem is None and isinstance(data, list) else []:
            pattern = play.get("hosts") if isinstance(play, dict) else None
            parts = pattern if isinstance(pattern, list) else [pattern] if isinstance(pattern, str) else []
            for part in parts:
                names.update(term.strip().lstrip("&!") for term in re.split(r"[:,]", str(part)) if "{" not in term)
    return {name for name in names if name and not any(c in name for c in "*?[~")}


def standin(data: dict[Any, Any], named: set[str]) -> dict[Any, Any]:
    """The stand-in of a YAML inventory's data (``{group: {hosts, vars, children}}``)."""
    kept: set[str] = set()

    def group(body: Any) -> Any:
        if not isinstance(body, dict):
            return body
        out: dict[Any, Any] = {}
        for key, value in body.items():
            if key == "hosts" and isinstance(value, dict) and value:
                hosts = [host for host in value if str(host) in kept] or list(value)[:1]
                hosts += [host for host in value if str(host) in named]
                out[key] = {host: value[host] for host in dict.fromkeys(hosts)}
                kept.update(str(host) for host in out[key])
            elif key == "children" and isinstance(value, dict):
                out[key] = {name: group(child) for name, child in value.items()}
            else:
                out[key] = value
        return out

    return {name: group(body) for name, body in data.items()}


def standin_texts(project: Path, sources: tuple[str, ...]) -> dict[str, str]:
    """Each inventory file of ``sources`` (YAML files ``lintsplit.why_whole`` accepted) -> its stand-in's text."""
    named = named_hosts(project, sources)
    texts = {}
    for source in sources:
        data, _ = load_yaml(project / source)
        body = yaml.dump(standin(data, named), Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                         allow_unicode=True)
        texts[source] = f"---\n# A stand-in for {source}: its groups, a host of each (lintstandin)\n{body}"
    return texts
