"""The Terraform of a workspace against the cluster: parsed with python-hcl2, never run.

What Terraform would load is worked out as Terraform does: the root directory's own ``.tf`` files, and
the directories that a loaded ``module`` block names as a local ``source``. Resources of the two providers
in wide use are understood (telmate/proxmox and bpg/proxmox); the cluster's values come from the
``Inventory`` and the guests' configs, read here independently of any exporter.
"""

from __future__ import annotations

import copy
import functools
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2
from hcl2.utils import SerializationOptions

from ..cluster.inventory import GuestInfo, Inventory, api_int
from .findings import Finding

CHECK = "terraform"
GIB, MIB = 1024**3, 1024**2
HCL = SerializationOptions(strip_string_quotes=True, with_comments=False, explicit_blocks=False)
# resource type -> (guest kind, vmid attribute, node attribute)
RESOURCE_TYPES = {"proxmox_vm_qemu": ("qemu", "vmid", "target_node"), "proxmox_lxc": ("lxc", "vmid", "target_node"),
                  "proxmox_virtual_environment_vm": ("qemu", "vm_id", "node_name"),
                  "proxmox_virtual_environment_container": ("lxc", "vm_id", "node_name")}
PROVIDER_SOURCES = ("telmate/proxmox", "bpg/proxmox")
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
SECRET_NAME = re.compile(r"token|secret|password|passwd|private_key", re.I)
IDENTIFIER_NAME = re.compile(r"_(id|name|url)$", re.I)  # proxmox_api_token_id names a token, it is not one
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)B?\s*", re.I)
_UNITS = {"": 1, "K": 1024, "M": MIB, "G": GIB, "T": 1024**4}
_QEMU_DISK, _LXC_DISK = re.compile(r"(?:ide|sata|scsi|virtio)\d+"), re.compile(r"rootfs|mp\d+")


@dataclass(frozen=True)
class TfResource:
    """A resource block: where it is (file, module directory relative to ``terraform/``), type, name, body."""

    file: Path
    module_dir: str
    type: str
    name: str
    body: Mapping[str, Any]

    @property
    def where(self) -> str:
        return f"{self.file.as_posix()} {self.type}.{self.name}"


@functools.lru_cache(maxsize=4096)
def _parse_text(text: str) -> dict[str, Any]:
    """One file's parse, kept by its content: the registry's five Terraform checks each read the same files,
    and parsing is nearly all of a check's time. A file that changed is a new key, whatever its mtime."""
    return dict(hcl2.loads(text, serialization_options=HCL))


def parse_terraform(root: Path) -> tuple[dict[Path, dict[str, Any]], list[Finding]]:
    """Every ``.tf`` file below ``root`` parsed (by path relative to ``root``), and one finding per file
    that does not parse. Each call returns its own copies, free to change."""
    parsed, findings = {}, []
    for path in sorted(root.rglob("*.tf")):
        relative = path.relative_to(root)
        try:
            parsed[relative] = copy.deepcopy(_parse_text(path.read_text(encoding="utf-8")))
        except Exception as exc:  # python-hcl2 raises lark's errors, which share no base class worth naming
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            findings.append(Finding(CHECK, f"terraform/{relative.as_posix()}", "syntax",
                                    note=f"does not parse: {first[:200]}"))
    return parsed, findings


def _blocks(data: Mapping[str, Any], kind: str) -> Iterator[tuple[str, Any]]:
    for entry in data.get(kind, []):
        yield from entry.items()


def loaded_modules(parsed: Mapping[Path, Mapping[str, Any]]) -> dict[str, str]:
    """Directories Terraform loads (relative to ``terraform/``, root ``.``) -> the module address prefix
    (``""`` for the root, ``module.vms.`` for a child called ``vms``)."""
    loaded, queue = {".": ""}, ["."]
    while queue:
        current = queue.pop()
        for path, data in parsed.items():
            if path.parent.as_posix() != current:
                continue
            for name, body in _blocks(data, "module"):
                source = str(body.get("source", "")) if isinstance(body, dict) else ""
                if source.startswith(("./", "../")):
                    target = (Path(current) / source).as_posix()
                    target = str(Path(target)) if target != "." else "."
                    if target not in loaded:
                        loaded[target] = f"{loaded[current]}module.{name}."
                        queue.append(target)
    return loaded


def terraform_resources(parsed: Mapping[Path, Mapping[str, Any]]) -> list[TfResource]:
    """Every resource block of every parsed file, loaded or not."""
    found = []
    for path, data in parsed.items():
        for rtype, named in _blocks(data, "resource"):
            for name, body in (named or {}).items():
                body = body if isinstance(body, dict) else {}
                found.append(TfResource(path, path.parent.as_posix(), rtype, name, body))
    return found


def _size_bytes(text: Any) -> int | None:
    if isinstance(text, (int, float)):
        return int(text * GIB)  # bpg: sizes are GiB numbers
    match = _SIZE.fullmatch(str(text or "").upper())
    return int(float(match.group(1)) * _UNITS[match.group(2)]) if match else None


def _gib(size: int | None) -> int | None:
    return None if size is None else max(1, math.ceil(size / GIB))


def cluster_disk_sizes(guest: GuestInfo) -> list[int]:
    """Sizes (GiB, rounded up) of the guest's storage-backed disks, from its config; CD-ROMs left out."""
    pattern = _QEMU_DISK if guest.kind == "qemu" else _LXC_DISK
    sizes = []
    for key, value in (guest.config or {}).items():
        if not pattern.fullmatch(key):
            continue
        parts = str(value).split(",")
        options = dict(part.partition("=")[::2] for part in parts[1:])
        volume = parts[0].partition("=")[2] if "=" in parts[0] else parts[0]
        if "media=cdrom" in parts or volume in ("", "none") or ":" not in volume or volume.startswith("/"):
            continue
        size = _gib(_size_bytes(options.get("size")))
        if size is not None:
            sizes.append(size)
    return sorted(sizes)


def cluster_cores(guest: GuestInfo) -> int | None:
    """Cores per socket: the config's ``cores``, else the guest's vCPUs."""
    return api_int((guest.config or {}).get("cores")) or guest.vcpus


def cluster_memory_mib(guest: GuestInfo) -> int | None:
    """Memory in MiB: the config's ``memory``, else ``maxmem``."""
    return api_int((guest.config or {}).get("memory")) or (guest.maxmem // MIB if guest.maxmem else None)


def _first(body: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = body.get(key)
    if isinstance(value, list):
        value = value[0] if value else {}
    return value if isinstance(value, dict) else {}


def _listed(body: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = body.get(key, [])
    return [item for item in (value if isinstance(value, list) else [value]) if isinstance(item, dict)]


def resource_values(resource: TfResource) -> dict[str, Any]:
    """vmid, node, name (a VM's name, a container's hostname), cores and sockets, memory (MiB), disk sizes
    (GiB, sorted) and the template flag as the resource declares them (None: not declared)."""
    kind, vmid_key, node_key = RESOURCE_TYPES[resource.type]
    body = resource.body
    if resource.type.startswith("proxmox_virtual_environment"):
        cpu = _first(body, "cpu")
        cores, sockets, memory = cpu.get("cores"), cpu.get("sockets"), _first(body, "memory").get("dedicated")
        blocks = _listed(body, "disk") + _listed(body, "mount_point")
        name = body.get("name") if kind == "qemu" else _first(body, "initialization").get("hostname")
    else:
        cores, sockets, memory = body.get("cores"), body.get("sockets"), body.get("memory")
        blocks = _listed(body, "disk") + _listed(body, "rootfs") + _listed(body, "mountpoint")
        name = body.get("name" if kind == "qemu" else "hostname")
    disks = sorted(size for size in (_gib(_size_bytes(block.get("size"))) for block in blocks) if size is not None)
    template = body.get("template")
    return {"vmid": api_int(body.get(vmid_key)), "node": body.get(node_key), "name": name,
            "cores": api_int(cores), "sockets": api_int(sockets), "memory": api_int(memory), "disks": disks,
            "template": template if isinstance(template, bool) else None}


def cluster_name(guest: GuestInfo) -> str | None:
    """What the guest is called: a VM's name; a container's hostname (its config's, else its name)."""
    if guest.kind == "lxc":
        return (guest.config or {}).get("hostname") or guest.name
    return guest.name


def check_terraform(workspace: Path, inventory: Inventory) -> list[Finding]:
    """Parse, load, provider, variables, one resource per guest with the cluster's values, imports."""
    root = Path(workspace) / "terraform"
    if not (root / "main.tf").is_file():
        return [Finding(CHECK, "terraform/main.tf", "file", note="missing: there is no root module")]
    parsed, findings = parse_terraform(root)
    loaded = loaded_modules(parsed)
    for path in parsed:
        if path.parent.as_posix() not in loaded:
            findings.append(Finding(CHECK, f"terraform/{path.as_posix()}", "location", note=(
                f"never loaded: no module block has source ./{path.parent.as_posix()}, and Terraform reads only "
                "a module directory's own files")))
    root_files: list[Mapping[str, Any]] = [data for path, data in parsed.items() if path.parent.as_posix() == "."]
    findings += _provider(root_files) + _variables(parsed)
    resources = [r for r in terraform_resources(parsed) if r.module_dir in loaded]
    findings += _names(resources) + _guests(resources, inventory) + _imports(root_files, resources, loaded, inventory)
    return findings


def _provider(root_files: list[Mapping[str, Any]]) -> list[Finding]:
    findings = []
    required = {name: spec for data in root_files for block in data.get("terraform", [])
                for entry in _listed(block, "required_providers") for name, spec in entry.items()}
    proxmox = {name: spec for name, spec in required.items()
               if isinstance(spec, dict) and spec.get("source") in PROVIDER_SOURCES}
    if not proxmox:
        findings.append(Finding(CHECK, "terraform/ root module", "required_providers",
                                note=f"no provider with source {' or '.join(PROVIDER_SOURCES)} is declared"))
    for name, spec in proxmox.items():
        if not str(spec.get("version") or "").strip():
            findings.append(Finding(CHECK, f"terraform/ required_providers.{name}", "version",
                                    note="no version constraint: an upgrade could change every plan"))
    configured = {label for data in root_files for label, _ in _blocks(data, "provider")}
    for name in proxmox:
        if name not in configured:
            findings.append(Finding(CHECK, f"terraform/ provider {name}", "block",
                                    note="the provider is never configured"))
    return findings


def _variables(parsed: Mapping[Path, Mapping[str, Any]]) -> list[Finding]:
    findings = []
    for path, data in parsed.items():
        for name, body in _blocks(data, "variable"):
            where = f"terraform/{path.as_posix()} variable {name}"
            body = body if isinstance(body, dict) else {}
            default = body.get("default")
            if "default" in body and "${" in repr(default):
                findings.append(Finding(CHECK, where, "default", note=f"{default!r} is an expression; a variable "
                                        "default must be a literal value"))
            if SECRET_NAME.search(name) and not IDENTIFIER_NAME.search(name):
                if default not in (None, ""):
                    findings.append(Finding(CHECK, where, "default", note="a secret has a default value in the file"))
                if body.get("sensitive") is not True:
                    findings.append(Finding(CHECK, where, "sensitive", note="a secret variable is not sensitive"))
    return findings


def _names(resources: list[TfResource]) -> list[Finding]:
    findings: list[Finding] = []
    seen: dict[tuple[str, str, str], str] = {}
    for resource in resources:
        if not IDENTIFIER.fullmatch(resource.name):
            findings.append(Finding(CHECK, resource.where, "label",
                                    note=f"resource name {resource.name!r} is not a valid identifier"))
        key = (resource.module_dir, resource.type, resource.name)
        if key in seen:
            findings.append(Finding(CHECK, resource.where, "label",
                                    note=f"resource name declared twice (also in {seen[key]})"))
        seen[key] = resource.file.as_posix()
    return findings


def _guests(resources: list[TfResource], inventory: Inventory) -> list[Finding]:
    findings = []
    by_vmid: dict[int | None, list[TfResource]] = {}
    for resource in resources:
        if resource.type in RESOURCE_TYPES:
            by_vmid.setdefault(resource_values(resource)["vmid"], []).append(resource)
    for vmid, guest in sorted(inventory.guests.items()):
        mine = by_vmid.pop(vmid, [])
        label = f"{guest.kind} {vmid} ({guest.name or 'no name'})"
        if len(mine) != 1:
            findings.append(Finding(CHECK, f"guest {label}", "resources", 1, len(mine),
                                    note="" if mine else "no resource describes this guest"))
            continue
        resource = mine[0]
        if RESOURCE_TYPES[resource.type][0] != guest.kind:
            findings.append(Finding(CHECK, resource.where, "type", note=f"a {guest.kind} guest as {resource.type}"))
        values = resource_values(resource)
        config = guest.config or {}
        wanted = {"node": guest.node, "cores": cluster_cores(guest), "memory": cluster_memory_mib(guest),
                  "disks": cluster_disk_sizes(guest) if guest.config is not None else None}
        for field, want in wanted.items():
            if want is not None and values[field] != want:
                findings.append(Finding(CHECK, resource.where, field, want, values[field]))
        # Declared or not at all: a provider may leave these to the guest, but a wrong value changes it.
        declared = {"name": cluster_name(guest), "template": guest.template,
                    "sockets": (api_int(config.get("sockets")) or 1) if guest.kind == "qemu" else None}
        for field, want in declared.items():
            if want is not None and values[field] is not None and values[field] != want:
                findings.append(Finding(CHECK, resource.where, field, want, values[field]))
    for stale_vmid, stale in sorted(by_vmid.items(), key=lambda item: str(item[0])):
        for resource in stale:
            findings.append(Finding(CHECK, resource.where, "vmid", note=(
                "no vmid" if stale_vmid is None else f"guest {stale_vmid} is not in the cluster (stale resource)")))
    return findings


def _imports(root_files: list[Mapping[str, Any]], resources: list[TfResource], loaded: Mapping[str, str],
             inventory: Inventory) -> list[Finding]:
    imported = {}
    for data in root_files:
        for block in data.get("import", []):
            to = str(block.get("to", "")).removeprefix("${").removesuffix("}")
            imported[to] = str(block.get("id", ""))
    findings = []
    addresses = {f"{loaded[r.module_dir]}{r.type}.{r.name}" for r in resources}
    for to, import_id in sorted(imported.items()):
        if to not in addresses:
            findings.append(Finding(CHECK, "terraform/ import", "import", note=(
                f"{to} (id {import_id!r}) is no resource of the configuration: Terraform refuses the plan")))
    for resource in resources:
        vmid = resource_values(resource)["vmid"] if resource.type in RESOURCE_TYPES else None
        if vmid is None or vmid not in inventory.guests:
            continue
        address = f"{loaded[resource.module_dir]}{resource.type}.{resource.name}"
        if address not in imported:
            findings.append(Finding(CHECK, resource.where, "import", note=(
                f"guest {vmid} exists, but no import block adopts {address}: a plan would create it again")))
        elif not re.search(rf"(^|\D){vmid}(\D|$)", imported[address]):
            findings.append(Finding(CHECK, resource.where, "import id", note=f"{imported[address]!r} does not name "
                                    f"guest {vmid}"))
    return findings
