"""What a guest was made from, as a resource declares it: a template's own flag and power state, a clone source,
a container's OS template. None of these can be read back from an existing guest (PVE keeps no record of a
clone source or of a container's template), so a resource that declares one for a guest it adopts invents it,
unless the guest itself shows it (a linked clone's disk is on its template's ``base-<vmid>-disk-N``), and where
the provider marks it ForceNew a plan after import would replace the guest. Each is one finding per resource.

The arguments judged are those of the provider version's table: a version without ``vm_state`` (telmate 2.9)
has no running state to judge, and its default is never assumed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ...model.inventory import GuestInfo, api_flag, api_int
from ..findings import Finding
from ..provider_tables import AttributeSchema, ProviderTable, ResourceSchema
from .expressions import Unresolved
from .hclfiles import TfResource, first
from .lifecycle import HIDDEN, absent, hides, schema_at
from .provider import CHECK

# rows of ``settings.ROWS`` that a template's judgement here takes over (one finding for a template's resource)
TEMPLATE_ROWS = frozenset({"template", "started", "vm_state", "start"})
# resource type -> its template flag, its power argument and the value that means "running"
TEMPLATE_FLAG = {"proxmox_virtual_environment_vm": "template", "proxmox_virtual_environment_container": "template",
                 "proxmox_lxc": "template"}
POWER = {"proxmox_virtual_environment_vm": ("started", True),
         "proxmox_virtual_environment_container": ("started", True),
         "proxmox_vm_qemu": ("vm_state", "running"), "proxmox_lxc": ("start", True)}
_BASE = re.compile(r"\bbase-(\d+)-disk-\d+")
_DISK_KEY = re.compile(r"(?:ide|sata|scsi|virtio)\d+|rootfs|mp\d+")
# what a template's file name says it holds -> the ostype PVE gives a container made from it
_DISTROS = {"debian": "debian", "ubuntu": "ubuntu", "alpine": "alpine", "centos": "centos", "fedora": "fedora",
            "archlinux": "archlinux", "opensuse": "opensuse", "devuan": "devuan", "gentoo": "gentoo",
            "nixos": "nixos", "rockylinux": "centos", "almalinux": "centos"}


def _power_on(value: Any, on: Any) -> bool:
    return str(value).lower() == str(on).lower() if isinstance(on, str) else api_flag(value) == on


class Origin:
    """The judgements of one resource against its guest: ``settings`` and ``replacements`` findings."""

    def __init__(self, resource: TfResource, guest: GuestInfo, table: ProviderTable | None,
                 others: Mapping[int, GuestInfo]) -> None:
        self.resource, self.guest, self.others = resource, guest, others
        self.schema: ResourceSchema | None = table.resources.get(resource.type) if table else None
        self.ignored = resource.ignored
        self.settings: list[Finding] = []
        self.replacements: list[Finding] = []

    def report(self, field: str, note: str, hidden: bool, force_new: bool, replaced: str = "the guest") -> None:
        if hidden:
            self.settings.append(Finding(CHECK, self.resource.where, field, note=note + HIDDEN))
        elif force_new:
            self.replacements.append(Finding(CHECK, self.resource.where, field, note=(
                f"{note}: {field} is ForceNew, so a plan after import would destroy and re-create {replaced}")))
        else:
            self.settings.append(Finding(CHECK, self.resource.where, field, note=f"{note}: a plan would change it"))

    def known(self, name: str) -> tuple[bool, AttributeSchema | None]:
        """Whether the provider version may have argument ``name`` (not when its table says it has none), and its
        schema (None: the table does not say)."""
        attribute, _ = schema_at(self.schema, name)
        return not (attribute is None and absent(self.schema, name)), attribute

    def template(self) -> None:
        """A template (``template: 1``) declared as an ordinary guest: no template flag where the provider has
        one, a running state (declared, or the version's default)."""
        kind = "VM" if self.guest.kind == "qemu" else "container"
        body, symptoms, force_new = self.resource.body, [], False
        flag = TEMPLATE_FLAG.get(self.resource.type)
        exists, attribute = self.known(flag) if flag else (False, None)
        if flag and exists:
            declared = body.get(flag)
            if not isinstance(declared, Unresolved) and not api_flag(declared):
                symptoms.append(f"{flag} = {declared!r}" if declared is not None else
                                f"no {flag} flag ({flag} left out, so the provider's default false applies)")
                force_new = bool(attribute and attribute.force_new)
        name, on = POWER[self.resource.type]
        exists, attribute = self.known(name)
        if exists:
            declared = body.get(name)
            default = attribute.default if attribute is not None else None
            if declared is not None and not isinstance(declared, Unresolved) and _power_on(declared, on):
                symptoms.append(f"{name} = {declared!r}, a running state (a template never runs)")
            elif declared is None and default is not None and _power_on(default, on):
                symptoms.append(f"{name} left out, so the provider's default {default!r} applies: a running state "
                                "(a template never runs)")
        if symptoms:
            self.report(flag or name, (
                f"guest {self.guest.vmid} is a template (template: 1 in its config), but the resource declares an "
                f"ordinary {kind}: {'; '.join(symptoms)}"),
                any(hides(self.ignored, n) for n in (flag or name, name)), force_new)

    def clone(self) -> None:
        """A clone source declared on a guest that exists: invented, unless its disks are linked to that
        template; a template declared as its own clone."""
        bpg = self.resource.type.startswith("proxmox_virtual_environment")
        block = first(self.resource.body, "clone") if bpg else {}
        field = "clone" if bpg or "clone" in self.resource.body else "clone_id"
        source = block.get("vm_id") if bpg else self.resource.body.get(field)
        if source is None:
            return
        shown = f"clone {{ vm_id = {source!r} }}" if bpg else f"{field} = {source!r}"
        target = self.source(source)
        linked = self.linked()
        hidden = hides(self.ignored, field)
        attribute, force_new = schema_at(self.schema, "clone.vm_id" if bpg else field)
        force_new = force_new or attribute is None  # both providers' clone sources are ForceNew
        if target is not None and target.vmid == self.guest.vmid:
            what = "template" if self.guest.template else "guest"
            self.report(field, f"{shown}: the {what} is declared as a clone of itself; a clone source cannot be read "
                        "back from an existing guest, so it is invented", hidden, force_new)
            return
        if target is not None and linked == target.vmid:
            self.full_clone(bpg, block, target)
            if not hidden:
                self.report(field, f"{shown}: the guest is a linked clone of {target.vmid}, but a clone source cannot "
                            "be read back from an existing guest, so the provider's state has none (lifecycle "
                            f"{{ ignore_changes = [{field}] }} keeps it)", False, force_new)
            return
        evidence = (f"its disks are linked to template {linked}" if linked is not None else
                    "its disks are linked to no template")
        name = f" (guest {target.vmid}, {target.name})" if target is not None else ""
        self.report(field, f"{shown}{name} on guest {self.guest.vmid}, which exists: a clone source cannot be read "
                    f"back from an existing guest and {evidence}, so it is invented", hidden, force_new)

    def full_clone(self, bpg: bool, block: Mapping[str, Any], target: GuestInfo) -> None:
        """A full clone declared (or by the provider's default) for a guest that is a linked clone."""
        name = "clone.full" if bpg else "full_clone"
        declared = block.get("full") if bpg else self.resource.body.get("full_clone")
        attribute = self.known(name)[1]
        default = attribute.default if attribute is not None else None
        value = declared if declared is not None else default
        if value is None or isinstance(value, Unresolved) or not api_flag(value):
            return
        how = f"{name} = {declared!r}" if declared is not None else f"{name} left out, so the provider's default " \
            f"{default!r} applies"
        self.report(name, f"{how}: a full clone, but guest {self.guest.vmid} is a linked clone of {target.vmid} "
                    "(its disk is on the template's base volume)", hides(self.ignored, name), False)

    def source(self, source: Any) -> GuestInfo | None:
        vmid = api_int(source)
        if vmid is not None:
            return self.others.get(vmid) or (self.guest if vmid == self.guest.vmid else None)
        named = [g for g in [*self.others.values(), self.guest] if g.name and g.name == str(source)]
        return named[0] if named else None

    def linked(self) -> int | None:
        """The template a linked clone's disks are on (``base-100-disk-0/vm-101-disk-0``), if any."""
        for key, value in (self.guest.config or {}).items():
            match = _BASE.search(str(value)) if _DISK_KEY.fullmatch(key) else None
            if match and int(match.group(1)) != self.guest.vmid:
                return int(match.group(1))
        return None

    def os_template(self) -> None:
        """A container's OS template: telmate's ``ostemplate``, bpg's ``operating_system.template_file_id``."""
        bpg = self.resource.type == "proxmox_virtual_environment_container"
        if not bpg and self.resource.type != "proxmox_lxc":
            return
        field = "operating_system" if bpg else "ostemplate"
        declared = first(self.resource.body, field).get("template_file_id") if bpg else \
            self.resource.body.get(field)
        hidden = hides(self.ignored, field)
        attribute, force_new = schema_at(self.schema, "operating_system.template_file_id" if bpg else field)
        force_new = force_new or attribute is None
        other = self.other_os(declared)
        if other:
            self.report(field, f"declares {declared!r}, but the container was not made from it: {other}", hidden,
                        force_new, "the container")
        elif hidden or (declared is None and not bpg):
            return
        elif bpg and "ostemplate" not in (self.guest.config or {}):
            self.replacements.append(Finding(CHECK, self.resource.where, field, note=(
                f"{'declared' if declared is not None else 'left out'}, but a container's config keeps no OS "
                "template and operating_system is ForceNew: a plan after import would destroy and re-create the "
                "container (lifecycle { ignore_changes = [operating_system] } keeps it)")))
        elif not bpg and declared != (self.guest.config or {}).get("ostemplate"):
            self.report(field, f"declares {declared!r}, a setting the guest's config does not have (PVE keeps no "
                        "record of what a container was made from, so the provider reads none back; lifecycle "
                        "{ ignore_changes = [ostemplate] } keeps it)", False, force_new, "the container")

    def other_os(self, declared: Any) -> str:
        """Why ``declared`` is not what the container was made from: a template of another distribution."""
        if not isinstance(declared, str) or isinstance(declared, Unresolved):
            return ""
        name = declared.rsplit("/", 1)[-1].lower()
        found = next((os for word, os in _DISTROS.items() if re.match(rf"{word}\b|{word}[-_\d]", name)), None)
        ostype = str((self.guest.config or {}).get("ostype") or "")
        if found is None or ostype in ("", "unmanaged") or found == ostype:
            return ""
        return f"its config's ostype is {ostype!r}, and {name} is a template of {found}"


def origin(resource: TfResource, guest: GuestInfo, table: ProviderTable | None,
           others: Mapping[int, GuestInfo]) -> tuple[list[Finding], list[Finding]]:
    """(settings findings, replacement findings) about what ``guest`` was made from."""
    judge = Origin(resource, guest, table, others)
    if guest.template:
        judge.template()
    judge.clone()
    judge.os_template()
    return judge.settings, judge.replacements
