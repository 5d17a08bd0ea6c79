"""Fake "real" programs for the shims' tests: ``ssh``, ``scp``, ``rsync``, ``ansible``, ``ansible-playbook``,
``terraform``, placed later on PATH than the shims. Each appends its argv as one JSON line to a record file, so a
test sees exactly what reached the "real" program. ``ansible-playbook`` and ``ansible`` also "connect" as the real
ones do: for each host of their inventory that their ``--limit`` keeps, they run ``ssh <ansible_host> true`` from
PATH (the ssh shim judges it). ``terraform`` makes a plan file for ``plan -out=F``, prints the prepared plan JSON
for ``show -json F``, writes ``terraform.tfstate`` at ``apply``. No network, no real SSH or Terraform.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

NAMES = ("ssh", "scp", "rsync", "ansible", "ansible-playbook", "terraform")


def install_fakes(folder: Path, record: Path, plan: Path | None = None) -> Path:
    """Write the fakes into ``folder`` (recording to ``record``; ``terraform show -json`` prints ``plan``)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in NAMES:
        words = [sys.executable, __file__, name, str(record), str(plan or "")]
        script = folder / name
        script.write_text(f"#!/bin/sh\nexec {shlex.join(words)} \"$@\"\n", encoding="utf-8")
        script.chmod(0o755)
    return folder


def records(record: Path) -> list[list[str]]:
    """Every run the fakes saw, as argv (program first)."""
    if not record.exists():
        return []
    return [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines() if line]


def _hosts(args: list[str]) -> list[tuple[str, str]]:
    inventory = args[args.index("-i") + 1] if "-i" in args else None
    limit = args[args.index("--limit") + 1].split(",") if "--limit" in args else None
    if inventory is None:
        return []
    data = yaml.safe_load(Path(inventory).read_text(encoding="utf-8")) or {}
    found: dict[str, str] = {}

    def walk(group: dict) -> None:
        for host, variables in (group.get("hosts") or {}).items():  # a host listed again without its variables
            address = (variables or {}).get("ansible_host")
            if address or str(host) not in found:
                found[str(host)] = str(address or host)
        for child in (group.get("children") or {}).values():
            walk(child or {})
    for group in data.values():
        walk(group or {})
    return [(host, address) for host, address in sorted(found.items()) if limit is None or host in limit]


def main(argv: list[str]) -> int:
    name, record, plan, args = argv[0], Path(argv[1]), argv[2], argv[3:]
    with record.open("a", encoding="utf-8") as out:
        out.write(json.dumps([name, *args]) + "\n")
    if name in ("ansible-playbook", "ansible") and not {"--syntax-check", "--list-hosts"} & set(args):
        failed = 0
        for host, address in _hosts(args):
            done = subprocess.run(["ssh", address, "true"], check=False)
            print(f"{host}: {'ok' if done.returncode == 0 else 'UNREACHABLE'}")
            failed += done.returncode != 0
        return 2 if failed else 0
    if name == "terraform":
        words = [w for w in args if not w.startswith("-chdir")]
        if words[:1] == ["plan"]:
            for word in words:
                if word.startswith("-out="):
                    Path(word[5:]).write_text("plan", encoding="utf-8")
            print("Plan: prepared")
        elif words[:2] == ["show", "-json"]:
            print(Path(plan).read_text(encoding="utf-8") if plan else "{}")
        elif words[:1] == ["apply"]:
            folder = next((Path(w.split("=", 1)[1]) for w in args if w.startswith("-chdir=")), Path())
            if folder.is_dir():
                (folder / "terraform.tfstate").write_text("{}", encoding="utf-8")
            print("Apply complete! Resources: prepared")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
