"""What Terraform reads: a root module, files that parse, directories a module loads, valid unique labels."""

from __future__ import annotations

import re

from ...model.inventory import Inventory
from ..findings import Finding
from .expressions import BLOCK
from .hclfiles import TfWorkspace, blocks, missing_sources
from .provider import CHECK

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def parse_problem(problem: str) -> str:
    """A finding's note for a file in ``TfWorkspace.broken``: one not read as too large says so, not that it does
    not parse."""
    return problem if problem.startswith(("too large", "cannot be judged")) else f"does not parse: {problem}"


def check_files(tf: TfWorkspace, inventory: Inventory) -> list[Finding]:
    """A root module exists; each file that does not parse, once; each directory no module loads, once
    (unless a module block that would say is itself in a block that does not parse)."""
    if not tf.has_root:
        return [Finding(CHECK, "terraform/main.tf", "file", note="missing: there is no root module")]
    findings = [Finding(CHECK, f"terraform/{path.as_posix()}", "syntax", note=parse_problem(problem))
                for path, problem in sorted(tf.broken.items())]
    findings += [Finding(CHECK, f"terraform/{call.file.as_posix()} module.{call.name}", "source", note=(
        f"./{call.target} holds no .tf file: terraform init fails")) for call in missing_sources(tf)]
    if any(block.kind == "module" for block in tf.lost):
        return findings
    for directory in tf.unloaded:
        for path, _ in tf.files_in(directory):
            findings.append(Finding(CHECK, f"terraform/{path.as_posix()}", "location", note=(
                f"never loaded: no module block has source ./{directory}, and Terraform reads only a module "
                "directory's own files")))
    return findings


def check_names(tf: TfWorkspace, inventory: Inventory) -> list[Finding]:
    """Resource labels are identifiers, and unique per module directory and type."""
    findings: list[Finding] = []
    seen: dict[tuple[str, str, str], str] = {}
    for path, data in tf.parsed.items():
        for rtype, named in blocks(data, "resource"):
            for name in (k for k in (named or {}) if k != BLOCK):
                where = f"terraform/{path.as_posix()} {rtype}.{name}"
                if not IDENTIFIER.fullmatch(name):
                    findings.append(Finding(CHECK, where, "label",
                                            note=f"resource name {name!r} is not a valid identifier"))
                key = (path.parent.as_posix(), rtype, name)
                if key in seen:
                    findings.append(Finding(CHECK, where, "label",
                                            note=f"resource name declared twice (also in {seen[key]})"))
                seen[key] = path.as_posix()
    return findings
