"""What a project's ``pytest_proxmox_mpc_adjust_policy`` hook may change of the resolved settings, checked as the
settings themselves are."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ..errors import SettingsError
from ..safety.exclusions import ExclusionList
from .parsing import vmid_range
from .settings import Settings


@dataclass
class PolicyAdjustment:
    """What a project's ``pytest_proxmox_mpc_adjust_policy`` hook may change: the temporary VMID range (inclusive)
    and the exclusion list. ``apply`` checks the result as it checks the setting."""

    temp_range: tuple[int, int]
    exclusions: ExclusionList

    def apply(self, settings: Settings, origin: str) -> Settings:
        """``settings`` with this adjustment; ``SettingsError`` naming ``origin`` for a value it cannot use."""
        changes: dict[str, Any] = {}
        sources = dict(settings.sources)
        if tuple(self.temp_range) != settings.temp_vmid_range:
            raw = self.temp_range
            try:
                first, last = (int(number) for number in raw)
            except (TypeError, ValueError):
                raise SettingsError(f"setting pve_temp_vmid_range (from {origin}): {raw!r} is not a pair of whole "
                                    "numbers (FIRST, LAST)") from None
            try:
                changes["temp_vmid_range"] = vmid_range(f"{first}-{last}")
            except ValueError as exc:
                raise SettingsError(f"setting pve_temp_vmid_range (from {origin}): {raw!r} {exc}") from None
            sources["temp_vmid_range"] = f"from {origin}"
        if self.exclusions is not settings.exclusions:
            if not isinstance(self.exclusions, ExclusionList):
                raise SettingsError(f"setting pve_exclusions (from {origin}): {type(self.exclusions).__name__} "
                                    "is not an ExclusionList")
            changes["exclusions"] = self.exclusions
            sources["exclusions"] = f"from {origin}"
        clash = changes.get("exclusions", settings.exclusions).clash(
            changes.get("temp_vmid_range", settings.temp_vmid_range))
        if changes and clash is not None:
            raise SettingsError(f"setting pve_exclusions (from {origin}): {clash}")
        return replace(settings, sources=sources, **changes) if changes else settings
