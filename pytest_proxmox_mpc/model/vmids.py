"""Guest ids: what PVE accepts, and the range the plugin reserves for temporary guests by default."""

VMID_MIN, VMID_MAX = 100, 999_999_999  # what PVE accepts as a guest id
DEFAULT_TEMP_RANGE = (990_000, 999_999)  # the default of --pve-temp-vmid-range
