"""What the workspace's Terraform checks cost: the five ``terraform-*`` registry checks on one exported
workspace of a synthetic cluster (the inventory of ``benchmarks/export.py``), against one ``check_terraform``.

Run: python benchmarks/validators.py [GUESTS] [ROUNDS]      (default 300 guests, 3 rounds; median printed)

The five checks each run ``check_terraform`` and keep the findings of their concern; the suite runs them
as five tests. Parses are kept by file content, so every round starts with that cache emptied: the figures
are what a run pays for a workspace it has not read yet. The ratio says what the five cost against one pass.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from export import synthetic_inventory  # type: ignore[import-not-found]

from pytest_proxmox_mpc.validators import CheckContext, check_terraform, checks_of
from pytest_proxmox_mpc.validators.terraform import clear_caches
from pytest_proxmox_mpc.workspace.export.iac import export_iac


def median_seconds(job: object, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        clear_caches()  # parses and workspace reads: a run pays these for a workspace it has not read
        start = time.perf_counter()
        job()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(guests: int, rounds: int) -> None:
    inventory = synthetic_inventory(guests, nodes=4)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        export_iac(inventory, root, "bpg")
        context = CheckContext(root / "scratch")
        terraform = [check for check in checks_of("iac") if check.name.startswith("terraform-")]
        one = median_seconds(lambda: check_terraform(root, inventory), rounds)
        five = median_seconds(lambda: [check.run(root, inventory, context) for check in terraform], rounds)
        files = len(list(root.rglob("*.tf")))
    print(f"{guests} guests, {files} .tf files; median of {rounds} rounds")
    print(f"  one check_terraform           {one:7.2f} s")
    print(f"  the {len(terraform)} terraform-* checks     {five:7.2f} s   ({five / one:.2f}x one pass)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300, int(sys.argv[2]) if len(sys.argv) > 2 else 3)
