"""A workspace with one very large ``.tf`` file, judged by the validation suite: the peak memory of the run (the
pytest process and every process it starts, from ``/proc``) and the finding that names the file.

Issue 32: a 200 MB ``.tf`` file in ``--mpc-workspace`` drove a run to 24 GB and the OOM killer. The checks now read
no ``.tf`` file larger than ``--mpc-max-file-size`` (2 MiB by default; YAML 4 times that): such a file is one
finding, too large to judge. The goal is a peak under 1 GB for all processes together.

    .venv/bin/python benchmarks/large_file.py            # 200 MB
    .venv/bin/python benchmarks/large_file.py --mb 50
    .venv/bin/python benchmarks/large_file.py --mb 5 --max-file-size 100   # parsed: what a file costs
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from _proctree import TreeMemory

BIN = Path(sys.executable).parent
GOAL_MB = 1024.0
BLOCK = '''resource "proxmox_virtual_environment_vm" "bulk_{n}" {{
  name      = "bulk-{n}"
  node_name = "pve1"
  vm_id     = {vmid}
}}
'''


def big_tf(path: Path, megabytes: int) -> None:
    """A syntactically plain .tf file of ``megabytes`` MB: resource blocks, one after the other."""
    target, written, n = megabytes * 1_000_000, 0, 0
    with path.open("w", encoding="utf-8") as out:
        while written < target:
            chunk = "".join(BLOCK.format(n=n + i, vmid=100000 + (n + i) % 800000) for i in range(1000))
            out.write(chunk)
            written, n = written + len(chunk), n + 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="size of the .tf file in MB (default 200)")
    parser.add_argument("--max-file-size", default="2", metavar="MIB",
                        help="the run's --mpc-max-file-size (default 2; above the file's size it is parsed)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="large-file-bench-") as tmp:
        work = Path(tmp)
        workspace = work / "workspace"
        for step in ("sync", "export"):
            subprocess.run([BIN / "pytest-proxmox-mpc", "workspace", "--pve-target", "sim", step, str(workspace)],
                           check=True, cwd=work, stdout=subprocess.DEVNULL)
        big_tf(workspace / "terraform" / "bulk.tf", args.mb)
        size = (workspace / "terraform" / "bulk.tf").stat().st_size / 1e6
        command = [BIN / "pytest", "--pyargs", "pytest_proxmox_mpc.validation",
                   "--pve-max-phase", "2", f"--mpc-workspace={workspace}",
                   f"--mpc-max-file-size={args.max_file_size}", "-p", "no:cacheprovider", "-q",
                   "-p", "no:randomly", "-n", "0"]
        process = subprocess.Popen(command, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True)
        memory = TreeMemory(process.pid).start()
        out, _ = process.communicate()
        memory.stop()
    named = [line for line in out.splitlines() if "bulk.tf" in line and "too large to judge" in line]
    peak = memory.peak_total / 2**20
    print(f"bulk.tf {size:.0f} MB: peak {peak:.0f} MB over {memory.most_processes} processes (largest one "
          f"{memory.peak_single / 2**20:.0f} MB); goal under {GOAL_MB:.0f} MB: "
          + ("met" if peak < GOAL_MB else "NOT met"))
    print(f"finding: {named[0].strip() if named else 'NONE naming bulk.tf'}")
    print(f"run: {out.strip().splitlines()[-1].strip('= ')}")
    return 0 if named and peak < GOAL_MB else 1


if __name__ == "__main__":
    sys.exit(main())
