"""How long the reference IaC export takes for a large cluster: a synthetic 10,000-guest ``Inventory``.

Run: python benchmarks/export.py [GUESTS] [ROUNDS] [--growth]   (--growth: also 100 and 1,000 guests)

The inventory is built directly from ``GuestInfo`` objects with configs shaped like real PVE configs
(VMs with one to three disks on different buses, one or two NICs, templates, containers with mount points,
a few unnamed guests and name collisions). For each provider it prints the median wall time of ROUNDS
(default 3) full exports (``export_iac``: Terraform and Ansible) into a fresh temporary directory, the
Terraform and Ansible parts on their own, and the time to render the guests' HCL without writing it (the
rest is the file system: one file per guest, and creating files is costly and noisy on shared machines).
``--growth`` prints the export's growth, its rendering's alone, and what creating as many files costs here.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from _stats import growth

from pytest_proxmox_mpc.model.inventory import GuestInfo, Inventory, NodeInfo
from pytest_proxmox_mpc.workspace.export.ansible import export_ansible
from pytest_proxmox_mpc.workspace.export.hcl import render
from pytest_proxmox_mpc.workspace.export.iac import export_iac
from pytest_proxmox_mpc.workspace.export.names import guest_names, hcl_label
from pytest_proxmox_mpc.workspace.export.terraform import PROVIDERS, export_terraform, guest_resource

GIB, MIB = 1024**3, 1024**2
ROLES = ("web", "db", "cache", "worker", "ci", "mon", "dns", "proxy")
STORAGES = ("local-lvm", "ceph-vm", "nas-nfs")


def synthetic_inventory(guests: int = 10_000, nodes: int = 16, seed: int = 42) -> Inventory:
    """A cluster of ``nodes`` nodes and ``guests`` guests (70% VMs), reproducible for ``seed``."""
    rng = random.Random(seed)
    node_names = [f"pve{n:02d}" for n in range(1, nodes + 1)]
    made: dict[int, GuestInfo] = {}
    for index in range(guests):
        vmid = 100 + index
        qemu = index % 10 < 7
        role = rng.choice(ROLES)
        name = None if index % 997 == 0 else f"{role}-{index % 5000:04d}"  # unnamed guests and collisions
        template = index % 500 == 1
        status = "stopped" if template or rng.random() < 0.2 else "running"
        cores, sockets = rng.choice((1, 2, 4, 8)), rng.choice((1, 1, 1, 2)) if qemu else 1
        memory = rng.choice((512, 1024, 2048, 4096, 8192, 16384))
        tags = tuple(sorted({role, rng.choice(("production", "staging", "dev"))}))
        mac = f"BC:24:11:{vmid >> 16 & 255:02X}:{vmid >> 8 & 255:02X}:{vmid & 255:02X}"
        config: dict[str, object] = {"cores": cores, "memory": str(memory) if qemu else memory,
                                     "tags": ";".join(tags), "ostype": "l26" if qemu else "debian"}
        sizes = [rng.choice((8, 16, 32, 64, 100))] + [rng.choice((50, 200, 500)) for _ in range(rng.randint(0, 2))]
        storage = rng.choice(STORAGES)
        if qemu:
            config.update(sockets=sockets, scsihw="virtio-scsi-single", name=name or "",
                          boot="order=scsi0;net0", ide2="none,media=cdrom",
                          net0=f"virtio={mac},bridge=vmbr0,firewall=1")
            for slot, size in enumerate(sizes):
                bus = ("scsi", "virtio", "sata")[slot]
                config[f"{bus}0" if slot else "scsi0"] = f"{storage}:vm-{vmid}-disk-{slot},iothread=1,size={size}G"
            if rng.random() < 0.3:
                config["net1"] = f"e1000={mac[:-2]}FF,bridge=vmbr1,tag={rng.randint(2, 4000)}"
        else:
            config.update(hostname=name or f"ct-{vmid}", swap=512, unprivileged=1, arch="amd64",
                          rootfs=f"{storage}:subvol-{vmid}-disk-0,size={sizes[0]}G",
                          net0=f"name=eth0,bridge=vmbr0,hwaddr={mac},ip=dhcp,type=veth")
            for slot, size in enumerate(sizes[1:]):
                config[f"mp{slot}"] = f"{storage}:subvol-{vmid}-disk-{slot + 1},mp=/srv/data{slot},size={size}G"
        if template:
            config["template"] = 1
        made[vmid] = GuestInfo(vmid=vmid, kind="qemu" if qemu else "lxc", node=rng.choice(node_names), name=name,
                               status=status, template=template, tags=tags,
                               pool=rng.choice((None, "prod", "lab")), vcpus=cores * sockets,
                               maxmem=memory * MIB, maxdisk=sizes[0] * GIB, config=config)
    return Inventory(version="8.2.4", cluster_name="bench", quorate=True,
                     nodes={name: NodeInfo(name=name, status="online") for name in node_names},
                     guests=made, storages={}, pools={}, networks={}, taken_at=time.time(), requests=0)


def median_seconds(job: Callable[[Path], object], rounds: int) -> float:
    """Median wall time of ``rounds`` runs of ``job``, each into an empty directory."""
    times = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory(prefix="iac-bench-") as directory:
            start = time.perf_counter()
            job(Path(directory))
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str]) -> None:
    numbers = [int(arg) for arg in argv[1:] if arg.isdigit()]
    guests = numbers[0] if numbers else 10_000
    rounds = numbers[1] if len(numbers) > 1 else 3
    start = time.perf_counter()
    inventory = synthetic_inventory(guests)
    print(f"built {inventory.summary()} in {time.perf_counter() - start:.2f} s; median of {rounds} rounds:")
    names = guest_names(inventory)
    for provider in PROVIDERS:
        full = median_seconds(partial(export_iac, inventory, provider=provider), rounds)
        terraform = median_seconds(partial(export_terraform, inventory, provider=provider), rounds)
        start = time.perf_counter()
        render_guests(inventory, provider, names)
        text = time.perf_counter() - start
        print(f"  {provider:8} export_iac {full:6.2f} s   (terraform alone {terraform:6.2f} s, "
              f"of which rendering the guests' HCL {text:5.2f} s)")
    print(f"  ansible alone      {median_seconds(partial(export_ansible, inventory), rounds):6.2f} s")
    if "--growth" in argv:
        sizes = tuple(sorted({100, 1_000, guests}))
        inventories = {size: synthetic_inventory(size) for size in sizes}
        seconds = [median_seconds(partial(export_iac, inventories[size], provider="bpg"), rounds) for size in sizes]
        print("growth of export_iac (bpg), median of each; should stay linear or better: " + growth(sizes, seconds))
        rendering = [median_seconds(lambda _directory, size=size: render_guests(inventories[size]), rounds)
                     for size in sizes]
        print("  its rendering alone (no file system): " + growth(sizes, rendering))
        files = [median_seconds(partial(create_files, size), rounds) for size in sizes]
        print("  creating that many files of 1 KB here (the file system's share): " + growth(sizes, files))


def render_guests(inventory: Inventory, provider: str = "bpg", names: dict[int, str] | None = None) -> None:
    """The guests' HCL text for ``provider``, without writing it (``names``: ``guest_names``, made if not given)."""
    names = guest_names(inventory) if names is None else names
    for guest in inventory.guests.values():
        render(guest_resource(guest, hcl_label(names[guest.vmid]), provider))


def create_files(count: int, directory: Path) -> None:
    """``count`` files of 1 KB in one folder: what the export's one file a guest costs the file system alone."""
    for index in range(count):
        (directory / f"guest-{index}.tf").write_text("x" * 1024, encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv)
