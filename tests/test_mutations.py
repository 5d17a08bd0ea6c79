"""The mutation catalogue: defective workspaces made by damaging a correct one, each caught by a workspace check.

The homelab scenario runs in a simulated cluster once per module; the reference builder makes one correct
workspace per Terraform provider. Each mutation copies one of them, damages it in one place (a row of
``state.db``, a ``.tf`` file, the Ansible inventory or a playbook) and runs every check of
``validators.checks.WORKSPACE_CHECKS`` (the validation suite's tests): the check named by the mutation must
report a finding that points at the damage (the vmid, the file, the column, the variable). The correct
workspaces must pass every check, ansible-lint included. ansible-lint takes seconds, so it runs only for the
mutations that need it, and once for them all: each damages a playbook of its own, and ansible-lint judges each
playbook by itself, so one run on a workspace with every one of them applied gives each its findings by file.
"""

from __future__ import annotations

import shutil
import sqlite3
import traceback
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_proxmox_mpc.cluster.inventory import read_inventory
from pytest_proxmox_mpc.model.inventory import Inventory
from pytest_proxmox_mpc.sut.snapshot import WorkspaceSnapshot
from pytest_proxmox_mpc.validators import WORKSPACE_CHECKS, CheckContext, Finding
from pytest_proxmox_mpc.workspace.builder import Connection, build_reference

from .simapi import served

PROVIDERS = ("bpg", "telmate")
CHECK_NAMES = tuple(check.name for check in WORKSPACE_CHECKS)
LINT = "ansible-lint-offline"
PROTECTED = frozenset({103})  # db-01, as an exclusion list would protect it: no play may change it


# --- the correct workspaces -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    inventory: Inventory
    password: str
    workspaces: dict[str, Path]
    lint_cache: Path  # ansible-lint results by content, shared by the workers (bpg and telmate share their Ansible)
    protected: frozenset[int] = PROTECTED


Mutate = Callable[[Path, Reference], None]  # damages a workspace; the reference gives the inventory and password


@pytest.fixture(scope="module")
def reference(homelab_scenario: Path, tmp_path_factory: pytest.TempPathFactory, lint_cache: Path
              ) -> Iterator[Reference]:
    """The homelab cluster's inventory and one correct workspace per provider (read-only afterwards)."""
    root = tmp_path_factory.mktemp("mutations")
    (root / "sim").mkdir()
    with served(homelab_scenario, root / "sim") as (api, ep):
        inventory = read_inventory(api)
        connection = Connection(ep.host, ep.port, ep.user, "pve1", True)
        workspaces = {provider: build_reference(api, root / f"workspace-{provider}", connection,
                                                provider=provider).path for provider in PROVIDERS}
    assert ep.password is not None
    yield Reference(inventory, ep.password.reveal(), workspaces, lint_cache)


def run_checks(workspace: Path, ref: Reference, scratch: Path, lint: bool) -> tuple[dict[str, list[Finding]],
                                                                                    dict[str, str]]:
    """Findings of every workspace check by name (the slow lint only if ``lint``), and the checks that raised."""
    findings: dict[str, list[Finding]] = {}
    crashes: dict[str, str] = {}
    for check in WORKSPACE_CHECKS:
        if check.slow and not lint:
            continue
        own = scratch / check.name
        own.mkdir(parents=True)
        try:
            findings[check.name] = check.run(workspace, ref.inventory, CheckContext(
                own, secrets=(ref.password,), lint_cache=ref.lint_cache, protected=ref.protected))
        except Exception as exc:
            crashes[check.name] = "".join(traceback.format_exception_only(exc)).strip()
    return findings, crashes


def report(findings: dict[str, list[Finding]], crashes: dict[str, str]) -> str:
    lines = []
    for name, found in findings.items():
        lines.append(f"{name}: {len(found)} finding(s)")
        lines += [f"    {finding}" for finding in found[:15]]
    lines += [f"{name}: RAISED {text}" for name, text in crashes.items()]
    return "\n".join(lines)


# --- how a workspace is damaged ---------------------------------------------------------------------------


def sql(*statements: str, foreign_keys: bool = True) -> Mutate:
    """Run ``statements`` on ``.proxmox/state.db``; each UPDATE, DELETE or INSERT must change a row."""
    def apply(workspace: Path, ref: Reference) -> None:
        with closing(sqlite3.connect(workspace / ".proxmox" / "state.db")) as conn:
            conn.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
            for statement in statements:
                cursor = conn.execute(statement)
                assert cursor.rowcount != 0, f"changed nothing: {statement}"
            conn.commit()
    return apply


def replace(relative: str, old: str, new: str) -> Mutate:
    """Replace the one occurrence of ``old`` in a file of the workspace."""
    def apply(workspace: Path, ref: Reference) -> None:
        path = workspace / relative
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {relative}"
        path.write_text(text.replace(old, new), encoding="utf-8")
    return apply


def append(relative: str, text: str) -> Mutate:
    def apply(workspace: Path, ref: Reference) -> None:
        path = workspace / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(text)
    return apply


def move(relative: str, to: str) -> Mutate:
    def apply(workspace: Path, ref: Reference) -> None:
        (workspace / to).parent.mkdir(parents=True, exist_ok=True)
        (workspace / relative).rename(workspace / to)
    return apply


def overwrite(relative: str, text: str) -> Mutate:
    def apply(workspace: Path, ref: Reference) -> None:
        (workspace / relative).write_text(text, encoding="utf-8")
    return apply


def delete(relative: str) -> Mutate:
    def apply(workspace: Path, ref: Reference) -> None:
        (workspace / relative).unlink()
    return apply


def inventory_yaml(change: Callable[[dict[str, Any]], None]) -> Mutate:
    """Change ``ansible/inventory.yml`` as data (``change`` gets ``all.children``)."""
    def apply(workspace: Path, ref: Reference) -> None:
        path = workspace / "ansible" / "inventory.yml"
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        change(data["all"]["children"])
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return apply


def known_password(relative: str, line: str) -> Mutate:
    """Append ``line`` with ``{password}`` replaced by the run's own password."""
    def apply(workspace: Path, ref: Reference) -> None:
        with (workspace / relative).open("a", encoding="utf-8") as handle:
            handle.write(line.format(password=ref.password) + "\n")
    return apply


def _drop_host(name: str) -> Callable[[dict[str, Any]], None]:
    def change(children: dict[str, Any]) -> None:
        for group in children.values():
            (group.get("hosts") or {}).pop(name, None)
    return change


def _add_host(group: str, name: str, variables: dict[str, Any] | None = None, like: str | None = None
              ) -> Callable[[dict[str, Any]], None]:
    def change(children: dict[str, Any]) -> None:
        hosts = children[group]["hosts"]
        hosts[name] = dict(hosts[like]) if like else dict(variables or {})
    return change


def _rename_host(old: str, new: str) -> Callable[[dict[str, Any]], None]:
    def change(children: dict[str, Any]) -> None:
        for group in children.values():
            hosts = group.get("hosts") or {}
            if old in hosts:
                hosts[new] = hosts.pop(old)
    return change


def _host_var(group: str, host: str, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(children: dict[str, Any]) -> None:
        variables = children[group]["hosts"][host]
        assert key in variables and variables[key] != value, (host, key, variables.get(key))
        variables[key] = value
    return change


def _move_host(host: str, source: str, target: str) -> Callable[[dict[str, Any]], None]:
    def change(children: dict[str, Any]) -> None:
        children[target]["hosts"][host] = children[source]["hosts"].pop(host)
    return change


def _add_group(name: str, hosts: list[str]) -> Callable[[dict[str, Any]], None]:
    def change(children: dict[str, Any]) -> None:
        children[name] = {"hosts": dict.fromkeys(hosts)}
    return change


def both(*mutations: Mutate) -> Mutate:
    """Several defects at once: each must still be reported, none more than once."""
    def apply(workspace: Path, ref: Reference) -> None:
        for mutate in mutations:
            mutate(workspace, ref)
    return apply


def _drop_var(group: str, host: str, key: str) -> Callable[[dict[str, Any]], None]:
    def change(children: dict[str, Any]) -> None:
        assert key in children[group]["hosts"][host], (host, key)
        del children[group]["hosts"][host][key]
    return change


def play(hosts: str, task: str, module: str, args: str, become: bool = True) -> str:
    """A play appended to a playbook: one task."""
    return (f"\n- name: Change {hosts}\n  hosts: {hosts}\n  gather_facts: false\n"
            + ("  become: true\n" if become else "") + f"  tasks:\n    - name: {task}\n      {module}:\n"
            + "".join(f"        {line}\n" for line in args.split(";")))


GHOST_VM = """# a VM the cluster does not have
resource "proxmox_virtual_environment_vm" "ghost" {
  name      = "ghost"
  node_name = "pve1"
  vm_id     = 999
  cpu {
    cores = 1
  }
  memory {
    dedicated = 512
  }
}
"""
FUNCTION_DEFAULT = """
variable "cluster_label" {
  description = "A label for the cluster"
  type        = string
  default     = upper("homelab")
}
"""
BPG_PROVIDER = """provider "proxmox" {
  endpoint  = var.proxmox_endpoint
  api_token = var.proxmox_api_token
  insecure  = var.proxmox_insecure
}
"""
IMPORT_WEB_02 = """import {
  to = module.vms.proxmox_virtual_environment_vm.web_02
  id = "pve2/102"
}
"""
IMPORT_GHOST = """
import {
  to = module.vms.proxmox_virtual_environment_vm.ghost
  id = "pve1/999"
}
"""
SHOW_STORAGE = """    - name: Show the storage status
      ansible.builtin.debug:
        var: maintenance_storage.stdout_lines
"""
REPORT_VM = """    - name: Report the VM
"""
STALE_VM = ("INSERT INTO vms (id, node_id, name, status, template, ha_managed, created_at, updated_at) "
            "SELECT 999, 'pve1', 'ghost', 'stopped', 0, 0, created_at, updated_at FROM vms WHERE id = 101")
STALE_NODE = ("INSERT INTO nodes (id, status, created_at, updated_at) "
              "SELECT 'pve9', 'offline', created_at, updated_at FROM nodes WHERE id = 'pve1'")
STALE_STORAGE = ("INSERT INTO storage (id, type, content_types, enabled, shared, created_at, updated_at) "
                 "SELECT 'old-nfs', 'nfs', '[\"backup\"]', 1, 1, created_at, updated_at FROM nodes WHERE id = 'pve1'")


# --- the catalogue ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mutation:
    """``apply`` damages a copy of the ``provider``'s correct workspace; the check ``check`` must report a
    finding containing every string of ``expect``; the checks in ``also`` must fail too."""

    name: str
    apply: Mutate
    check: str
    expect: tuple[str, ...]
    provider: str = "bpg"
    also: tuple[str, ...] = ()
    gap: str = ""  # a validator gap: the test is expected to fail until the validator is fixed
    absent: tuple[str, ...] = ()  # no finding of any check may contain one of these (no cascade)

    @property
    def lint(self) -> bool:
        return LINT in (self.check, *self.also)


M = Mutation
ROWS, ENCODINGS, SCHEMA, FKEYS = "database-rows", "database-encodings", "database-schema", "database-foreign-keys"
SNAPSHOTS, BACKUP = "database-snapshots", "database-backup-restore"
TF_LOAD, TF_PROVIDER, TF_NAMES = "terraform-files-parse-and-load", "terraform-provider-and-variables", \
    "terraform-resource-names"
TF_GUESTS, TF_IMPORTS = "terraform-one-resource-per-guest", "terraform-imports-existing-guests"
SECRETS, ANSIBLE = "no-plaintext-secrets", "ansible-inventory-and-playbook-targets"
TF_SETTINGS, TF_REPLACE = "terraform-settings-match-guest-config", "terraform-plan-replaces-no-guest"
TF_SCHEMA, TF_HYGIENE = "terraform-provider-schema", "terraform-connection-hygiene"
COVERAGE, PLAYS = "ansible-inventory-covers-cluster", "ansible-plays-spare-production"

MUTATIONS: tuple[Mutation, ...] = (
    # state.db: rows against the cluster
    M("db-vm-row-missing", sql("DELETE FROM vms WHERE id = 101"), ROWS, ("vms 101", "missing")),
    M("db-container-row-missing", sql("DELETE FROM containers WHERE id = 200"), ROWS, ("containers 200", "missing")),
    M("db-stale-vm-row", sql(STALE_VM), ROWS, ("vms 999", "stale")),
    M("db-stale-node-row", sql(STALE_NODE), ROWS, ("nodes pve9", "stale")),
    M("db-stale-storage-row", sql(STALE_STORAGE), ROWS, ("storage old-nfs", "stale")),
    M("db-guest-on-wrong-node", sql("UPDATE vms SET node_id = 'pve3' WHERE id = 101"), ROWS,
      ("vms 101", "node_id", "'pve1'", "'pve3'")),
    M("db-memory-in-mib", sql("UPDATE vms SET memory_bytes = 4096 WHERE id = 101"), ROWS,
      ("vms 101", "memory_bytes", "4294967296", "4096")),
    M("db-container-memory-in-mib", sql("UPDATE containers SET memory_bytes = 512 WHERE id = 200"), ROWS,
      ("containers 200", "memory_bytes", "512")),
    M("db-disk-size-in-gib", sql("UPDATE vms SET disk_size = 32 WHERE id = 101"), ROWS,
      ("vms 101", "disk_size", "34359738368", "32")),
    M("db-template-flag-flipped", sql("UPDATE vms SET template = 0 WHERE id = 100"), ROWS,
      ("vms 100", "template", "expected 1")),
    M("db-wrong-cpu-cores", sql("UPDATE vms SET cpu_cores = 4 WHERE id = 103"), ROWS, ("vms 103", "cpu_cores", "8")),
    M("db-wrong-status", sql("UPDATE vms SET status = 'running' WHERE id = 105"), ROWS,
      ("vms 105", "status", "'stopped'", "'running'")),
    M("db-ha-managed-wrong", sql("UPDATE vms SET ha_managed = 0 WHERE id = 103"), ROWS, ("vms 103", "ha_managed")),
    M("db-config-digest-wrong", sql("UPDATE vms SET config_digest = 'deadbeef' WHERE id = 104"), ROWS,
      ("vms 104", "config_digest", "'deadbeef'")),
    # state.db: encodings, schema, foreign keys, snapshots
    M("db-boolean-as-text", sql("UPDATE vms SET ha_managed = 'true' WHERE id = 103"), ENCODINGS,
      ("vms 103", "ha_managed", "not a BOOLEAN")),
    M("db-date-in-seconds", sql("UPDATE vms SET created_at = created_at / 1000 WHERE id = 101"), ENCODINGS,
      ("vms 101", "created_at", "epoch milliseconds")),
    M("db-date-as-iso-text", sql("UPDATE nodes SET last_seen = '2026-01-01T00:00:00.000Z' WHERE id = 'pve1'"),
      ENCODINGS, ("nodes pve1", "last_seen", "2026-01-01T00:00:00.000Z")),
    M("db-content-types-not-json", sql("UPDATE storage SET content_types = 'backup,iso' WHERE id = 'local'"),
      ENCODINGS, ("storage local", "content_types", "not a JSON array")),
    M("db-snapshot-invalid-change-type", sql(
        "UPDATE state_snapshots SET change_type = 'modified' WHERE resource_type = 'vm' AND resource_id = '101'"),
      ENCODINGS, ("change_type", "'modified' is none of"), also=(SNAPSHOTS,)),
    M("db-guest-snapshots-deleted", sql("DELETE FROM state_snapshots WHERE resource_id = '105'"), SNAPSHOTS,
      ("guest 105",)),
    M("db-foreign-key-violation", sql("UPDATE vms SET node_id = 'pve9' WHERE id = 102", foreign_keys=False), FKEYS,
      ("vms rowid 102", "node_id has no matching nodes.id"), also=(BACKUP,)),
    M("db-column-dropped", sql("ALTER TABLE vms DROP COLUMN lock_status"), SCHEMA,
      ("vms.lock_status", "column missing")),
    M("db-table-dropped", sql("DROP TABLE tasks"), SCHEMA, ("tasks", "table missing")),
    M("db-not-sqlite", overwrite(".proxmox/state.db", "not a database, " * 100), ROWS,
      ("state.db", "cannot be read", "file is not a database"), also=(SCHEMA, ENCODINGS, SNAPSHOTS, FKEYS)),
    M("db-missing", delete(".proxmox/state.db"), ROWS, ("state.db", "no state database"),
      also=(SCHEMA, ENCODINGS, SNAPSHOTS, FKEYS)),
    # Terraform (bpg)
    M("tf-resource-in-unloaded-directory", move("terraform/vms/web_01.tf", "terraform/vms/archive/web_01.tf"),
      TF_LOAD, ("terraform/vms/archive/web_01.tf", "never loaded"), absent=("guest qemu 101", "adopts module.vms")),
    M("tf-syntax-error", replace("terraform/vms/web_01.tf", "vm_id         = 101", "vm_id         = = 101"),
      TF_LOAD, ("terraform/vms/web_01.tf", "does not parse")),
    M("tf-duplicated-resource-name", replace("terraform/vms/web_02.tf", '"web_02" {', '"web_01" {'), TF_NAMES,
      ("web_01", "declared twice")),
    M("tf-invalid-resource-name", replace("terraform/vms/web_01.tf", '"web_01" {', '"01-web" {'), TF_NAMES,
      ("web_01.tf", "'01-web' is not a valid identifier")),
    M("tf-resource-deleted", delete("terraform/vms/db_01.tf"), TF_GUESTS, ("qemu 103 (db-01)", "no resource")),
    M("tf-resource-for-missing-guest", append("terraform/vms/ghost.tf", GHOST_VM), TF_GUESTS,
      ("ghost.tf", "guest 999 is not in the cluster")),
    M("tf-wrong-target-node", replace("terraform/vms/web_01.tf", 'node_name     = "pve1"', 'node_name     = "pve2"'),
      TF_GUESTS, ("web_01.tf", "node", "'pve1'", "'pve2'")),
    M("tf-wrong-cores", replace("terraform/vms/db_01.tf", "cores   = 4", "cores   = 8"), TF_GUESTS,
      ("db_01.tf", "cores", "expected 4", "found 8")),
    M("tf-memory-in-bytes", replace("terraform/vms/web_01.tf", "dedicated = 4096", "dedicated = 4294967296"),
      TF_GUESTS, ("web_01.tf", "memory", "4096", "4294967296")),
    M("tf-wrong-disk-size", replace("terraform/vms/db_01.tf", "size         = 200", "size         = 20"), TF_GUESTS,
      ("db_01.tf", "disks", "200")),
    M("tf-secret-variable-default", replace("terraform/main.tf", "  sensitive   = true\n}", (
        '  sensitive   = true\n  default     = "root@pam!export=3f0c2a9e-5b7d-4c1e-9a6f-2d8b1e4c7a90"\n}')),
      SECRETS, ("terraform/main.tf:", "variable proxmox_api_token has a literal secret default")),
    M("tf-secret-variable-not-sensitive", replace("terraform/main.tf", "  sensitive   = true\n", ""), TF_PROVIDER,
      ("variable proxmox_api_token", "not sensitive")),
    M("tf-function-call-in-default", append("terraform/main.tf", FUNCTION_DEFAULT), TF_PROVIDER,
      ("variable cluster_label", "upper", "expression")),
    M("tf-version-constraint-removed", replace("terraform/main.tf", '      version = ">= 0.60.0, < 1.0.0"\n', ""),
      TF_PROVIDER, ("required_providers.proxmox", "no version constraint")),
    M("tf-provider-block-removed", replace("terraform/main.tf", BPG_PROVIDER, ""), TF_PROVIDER,
      ("provider proxmox", "never configured")),
    M("tf-import-removed", replace("terraform/imports.tf", IMPORT_WEB_02, ""), TF_IMPORTS,
      ("web_02.tf", "no import block adopts module.vms.proxmox_virtual_environment_vm.web_02")),
    M("tf-import-names-another-guest", replace("terraform/imports.tf", 'id = "pve2/102"', 'id = "pve2/120"'),
      TF_IMPORTS, ("web_02.tf", "'pve2/120' does not name guest 102")),
    M("tf-import-of-nothing", append("terraform/imports.tf", IMPORT_GHOST), TF_IMPORTS,
      ("module.vms.proxmox_virtual_environment_vm.ghost",)),
    M("tf-password-in-a-file", known_password("terraform/main.tf", "# exported as root@pam with {password}"),
      SECRETS, ("terraform/main.tf:", "the run's own credential")),
    M("tf-wrong-guest-name", replace("terraform/vms/web_01.tf", 'name          = "web-01"', 'name          = "web-99"'),
      TF_GUESTS, ("web_01.tf", "name", "web-01")),
    M("tf-wrong-sockets", replace("terraform/vms/db_01.tf", "sockets = 2", "sockets = 1"), TF_GUESTS,
      ("db_01.tf", "sockets")),
    M("tf-template-flag-flipped", replace("terraform/vms/tmpl_debian12.tf", "template      = true",
                                          "template      = false"), TF_REPLACE,
      ("tmpl_debian12.tf", "proxmox_virtual_environment_vm.tmpl_debian12", "template", "ForceNew")),
    # one root cause, one finding: the other defects are still reported
    M("cascade-broken-file-others-judged", both(
        replace("terraform/vms/web_01.tf", "vm_id         = 101", "vm_id         = = 101"),
        replace("terraform/vms/db_01.tf", "cores   = 4", "cores   = 8")), TF_GUESTS,
      ("db_01.tf", "cores", "expected 4", "found 8"), also=(TF_LOAD,),
      absent=("guest qemu 101", "proxmox_virtual_environment_vm.web_01 (id")),
    M("cascade-unloaded-directory-still-judged", both(
        move("terraform/vms/web_01.tf", "terraform/vms/archive/web_01.tf"),
        replace("terraform/vms/archive/web_01.tf", 'node_name     = "pve1"', 'node_name     = "pve2"')), TF_GUESTS,
      ("terraform/vms/archive/web_01.tf", "proxmox_virtual_environment_vm.web_01", "node", "'pve1'", "'pve2'"),
      also=(TF_LOAD,), absent=("guest qemu 101", "adopts")),
    M("cascade-unknown-type-is-one-finding", replace(
        "terraform/vms/web_01.tf", '"proxmox_virtual_environment_vm" "web_01"',
        '"proxmox_virtual_environment_vmm" "web_01"'), TF_SCHEMA,
      ("web_01.tf", "proxmox_virtual_environment_vmm.web_01", "type", "has no resource type"),
      absent=("guest qemu 101", "is no resource of the configuration")),
    # every setting against the guest's config: invented, differing, a provider default that differs
    M("tf-invented-bios", replace("terraform/vms/web_01.tf", "  on_boot       = false\n",
                                  '  on_boot       = false\n  bios          = "ovmf"\n'), TF_SETTINGS,
      ("terraform/vms/web_01.tf", "proxmox_virtual_environment_vm.web_01", "bios", "invented setting")),
    M("tf-tags-differ", replace("terraform/vms/web_01.tf", 'tags          = ["production", "web"]',
                                'tags          = ["web"]'), TF_SETTINGS, ("web_01.tf", "tags", "'production'")),
    M("tf-on-boot-left-out", replace("terraform/vms/web_01.tf", "  on_boot       = false\n", ""), TF_SETTINGS,
      ("web_01.tf", "proxmox_virtual_environment_vm.web_01", "on_boot", "provider's default True")),
    M("tf-stopped-guest-started-by-default", replace("terraform/vms/dev_sandbox.tf", "  started       = false\n", ""),
      TF_SETTINGS, ("dev_sandbox.tf", "started", "provider's default True")),
    M("tf-nic-firewall-left-out", replace("terraform/vms/web_01.tf", "    firewall    = true\n", ""), TF_SETTINGS,
      ("web_01.tf", "network_device[0].firewall", "provider's default False")),
    M("tf-container-dhcp-dropped", replace("terraform/containers/dns_01.tf", (
        "    ip_config {\n      ipv4 {\n        address = \"dhcp\"\n      }\n    }\n"), ""), TF_SETTINGS,
      ("dns_01.tf", "proxmox_virtual_environment_container.dns_01", "initialization.ip_config[0].ipv4.address",
       "'dhcp'")),
    M("tf-invented-nic", replace("terraform/vms/web_01.tf", "  operating_system {", (
        '  network_device {\n    bridge = "vmbr1"\n  }\n  operating_system {')), TF_SETTINGS,
      ("web_01.tf", "network_device", "invented NIC")),
    M("telmate-onboot-differs", replace("terraform/vms/web_01.tf", "onboot      = false", "onboot      = true"),
      TF_SETTINGS, ("web_01.tf", "proxmox_vm_qemu.web_01", "onboot", "True"), provider="telmate"),
    M("telmate-description-left-out", replace("terraform/vms/web_01.tf", '  description = ""\n', ""), TF_SETTINGS,
      ("web_01.tf", "proxmox_vm_qemu.web_01", "description", "provider's default 'Managed by Terraform.'"),
      provider="telmate"),
    # what the provider takes (its packaged schema table)
    M("tf-unknown-argument", replace("terraform/vms/web_01.tf", "    sockets = 1\n",
                                     "    sockets = 1\n    threads = 2\n"), TF_SCHEMA,
      ("web_01.tf", "proxmox_virtual_environment_vm.web_01", "cpu.threads", "no argument")),
    M("tf-block-written-as-argument", replace("terraform/vms/web_01.tf", "  memory {", "  memory = {"), TF_SCHEMA,
      ("web_01.tf", "memory", "as a block"), absent=("memory: expected",)),
    M("tf-required-argument-missing", replace("terraform/containers/dns_01.tf", '    name        = "eth0"\n', ""),
      TF_SCHEMA, ("dns_01.tf", "proxmox_virtual_environment_container.dns_01", "network_interface.name",
                  "required")),
    M("tf-unknown-data-source", append("terraform/main.tf", '\ndata "proxmox_virtual_environment_nodez" "all" {}\n'),
      TF_SCHEMA, ("terraform/main.tf", "data.proxmox_virtual_environment_nodez.all", "no data source type")),
    M("tf-unknown-provider-argument", replace("terraform/main.tf", "  insecure  = var.proxmox_insecure\n", (
        "  insecure  = var.proxmox_insecure\n  pm_api_url = var.proxmox_endpoint\n")), TF_SCHEMA,
      ("terraform/main.tf provider proxmox", "pm_api_url", "no argument")),
    M("tf-import-id-in-another-format", replace("terraform/imports.tf", 'id = "pve2/102"', 'id = "pve2/qemu/102"'),
      TF_IMPORTS, ("web_02.tf", "import id", "not of the form <node_name>/<vm_id>")),
    M("tf-import-id-names-wrong-node", replace("terraform/imports.tf", 'id = "pve2/102"', 'id = "pve1/102"'),
      TF_IMPORTS, ("web_02.tf", "import id", "names node pve1", "is on pve2")),
    M("telmate-import-id-without-kind", replace("terraform/imports.tf", 'id = "pve2/qemu/102"', 'id = "pve2/102"'),
      TF_IMPORTS, ("web_02.tf", "proxmox_vm_qemu.web_02", "<target_node>/qemu/<vmid>"), provider="telmate"),
    M("telmate-unknown-argument-in-a-disk", replace("terraform/vms/web_01.tf", "          iothread = true\n",
                                                     "          iothread = true\n          ssd      = 1\n"), TF_SCHEMA,
      ("web_01.tf", "proxmox_vm_qemu.web_01", "disks.scsi.scsi0.disk.ssd", "3.0.2-rc07", "no argument"),
      provider="telmate"),
    M("telmate-2.9-argument-under-a-3.0-pin", replace("terraform/vms/web_01.tf", '  qemu_os     = "l26"\n',
                                                       '  qemu_os     = "l26"\n  oncreate    = true\n'), TF_SCHEMA,
      ("web_01.tf", "proxmox_vm_qemu.web_01", "oncreate", "no argument"), provider="telmate"),
    M("telmate-2.9-disk-block-under-a-3.0-pin", replace("terraform/vms/web_01.tf", (
        '  disks {\n    scsi {\n      scsi0 {\n        disk {\n          storage  = "ceph-vm"\n'
        '          size     = "32G"\n          iothread = true\n        }\n      }\n    }\n  }\n'), (
        '  disk {\n    type     = "scsi"\n    storage  = "ceph-vm"\n    size     = "32G"\n    iothread = true\n  }\n')),
      TF_SCHEMA, ("web_01.tf", "proxmox_vm_qemu.web_01", "disk.slot", "required"), provider="telmate"),
    M("telmate-network-id-missing", replace("terraform/vms/web_01.tf", "    id       = 0\n", ""), TF_SCHEMA,
      ("web_01.tf", "proxmox_vm_qemu.web_01", "network.id", "required by telmate/proxmox 3.0.2-rc07"),
      provider="telmate"),
    M("telmate-container-import-id-as-qemu", replace("terraform/imports.tf", 'id = "pve1/lxc/200"',
                                                      'id = "pve1/qemu/200"'), TF_IMPORTS,
      ("dns_01.tf", "proxmox_lxc.dns_01", "import id", "<target_node>/lxc/<vmid>"), provider="telmate"),
    M("telmate-rootfs-on-another-storage", replace("terraform/containers/dns_01.tf", 'storage = "local-lvm"',
                                                    'storage = "ceph-vm"'), TF_REPLACE,
      ("dns_01.tf", "proxmox_lxc.dns_01", "rootfs.storage", "'local-lvm'", "ForceNew"), absent=("rootfs.storage",),
      provider="telmate"),
    M("telmate-ostemplate-on-an-adopted-container", replace(
        "terraform/containers/dns_01.tf", "  onboot       = false\n",
        '  onboot       = false\n  ostemplate   = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"\n'),
      TF_REPLACE, ("dns_01.tf", "proxmox_lxc.dns_01", "ostemplate", "does not have", "ForceNew"),
      absent=("ostemplate",), provider="telmate"),
    M("tf-force-new-unprivileged-flipped", replace("terraform/containers/dns_01.tf", "unprivileged  = true",
                                                   "unprivileged  = false"), TF_REPLACE,
      ("dns_01.tf", "proxmox_virtual_environment_container.dns_01", "unprivileged", "ForceNew"),
      absent=("unprivileged: declares",)),
    M("tf-clone-block-on-existing-guest", replace("terraform/vms/web_01.tf", "  operating_system {", (
        "  clone {\n    vm_id = 100\n  }\n  operating_system {")), TF_REPLACE, ("web_01.tf", "clone", "re-create")),
    M("tf-container-lifecycle-dropped", replace("terraform/containers/dns_01.tf", (
        "  lifecycle {\n    ignore_changes = [operating_system]\n  }\n"), ""), TF_REPLACE,
      ("dns_01.tf", "proxmox_virtual_environment_container.dns_01", "operating_system", "ForceNew")),
    M("telmate-version-that-cannot-start-on-pve9", replace("terraform/main.tf", 'version = "3.0.2-rc07"',
                                                            'version = "3.0.1-rc10"'), TF_PROVIDER,
      ("required_providers.proxmox", "version", "PVE 9", "3.0.2-rc04"), provider="telmate"),
    # connection hygiene
    M("tf-tls-verification-off-by-default", replace("terraform/main.tf", "  type        = bool\n  default     = false",
                                                     "  type        = bool\n  default     = true"), TF_HYGIENE,
      ("terraform/main.tf provider proxmox", "insecure", "variable proxmox_insecure")),
    M("telmate-tls-verification-off-literally", replace(
        "terraform/main.tf", "pm_tls_insecure     = var.proxmox_tls_insecure", "pm_tls_insecure     = true"),
      TF_HYGIENE,
      ("terraform/main.tf provider proxmox", "pm_tls_insecure", "TLS certificate verification is off"),
      provider="telmate"),
    M("telmate-token-id-without-token-name", replace(
        "terraform/main.tf", "pm_api_token_id     = var.proxmox_api_token_id", 'pm_api_token_id     = "terraform@pve"'),
      TF_HYGIENE,
      ("terraform/main.tf provider proxmox", "pm_api_token_id", "USER@REALM!NAME"), provider="telmate"),
    # Terraform (telmate)
    M("telmate-memory-in-gib", replace("terraform/vms/web_01.tf", "memory      = 4096", "memory      = 4"),
      TF_GUESTS, ("web_01.tf", "proxmox_vm_qemu.web_01", "memory", "4096"), provider="telmate"),
    M("telmate-wrong-cores", replace("terraform/vms/web_02.tf", "cores   = 2", "cores   = 4"), TF_GUESTS,
      ("web_02.tf", "cores", "expected 2", "found 4"), provider="telmate"),
    M("telmate-rootfs-in-mib", replace("terraform/containers/dns_01.tf", 'size    = "8G"', 'size    = "8M"'),
      TF_GUESTS, ("dns_01.tf", "proxmox_lxc.dns_01", "disks", "[8]"), provider="telmate"),
    M("telmate-wrong-target-node", replace("terraform/containers/dns_01.tf", 'target_node  = "pve1"',
                                           'target_node  = "pve3"'), TF_GUESTS, ("dns_01.tf", "node", "'pve1'"),
      provider="telmate"),
    M("telmate-secret-variable-default", replace("terraform/main.tf", (
        '  description = "API token secret"\n  type        = string\n'), (
        '  description = "API token secret"\n  type        = string\n'
        '  default     = "3f0c2a9e-5b7d-4c1e-9a6f-2d8b1e4c7a90"\n')), SECRETS,
      ("terraform/main.tf:", "variable proxmox_api_token_secret has a literal secret default"), provider="telmate"),
    M("telmate-token-secret-in-provider-block", replace("terraform/main.tf", (
        "pm_api_token_secret = var.proxmox_api_token_secret"), (
        'pm_api_token_secret = "3f0c2a9e-5b7d-4c1e-9a6f-2d8b1e4c7a90"')), SECRETS,
      ("terraform/main.tf:", "pm_api_token_secret holds a literal value"), provider="telmate"),
    # Ansible
    M("ansible-guest-missing", inventory_yaml(_drop_host("web_01")), ANSIBLE, ("guest 101 (web-01)", "missing")),
    M("ansible-guest-listed-twice", inventory_yaml(_add_host("vms", "web01_copy", like="web_01")), ANSIBLE,
      ("guest 101", "listed 2 times", "web01_copy")),
    M("ansible-invalid-host-name", inventory_yaml(_rename_host("web_01", "web 01")), ANSIBLE,
      ("host web 01", "not a valid host name")),
    M("ansible-invalid-group-name", inventory_yaml(_add_group("web-servers", ["web_01", "web_02"])), ANSIBLE,
      ("group web-servers", "not a valid group name")),
    M("ansible-stale-host", inventory_yaml(_add_host("vms", "ghost", {"vmid": 999, "proxmox_node": "pve1"})),
      ANSIBLE, ("host ghost", "vmid 999")),
    M("ansible-wrong-proxmox-node", inventory_yaml(_host_var("vms", "web_01", "proxmox_node", "pve2")), ANSIBLE,
      ("host web_01", "proxmox_node", "'pve1'", "'pve2'")),
    M("ansible-wrong-status", inventory_yaml(_host_var("vms", "dev_sandbox", "status", "running")), ANSIBLE,
      ("host dev_sandbox", "status", "'stopped'")),
    M("ansible-wrong-memory", inventory_yaml(_host_var("vms", "web_01", "memory_mb", 4)), ANSIBLE,
      ("host web_01", "memory_mb")),
    M("ansible-running-guest-in-stopped-group", inventory_yaml(_move_host("web_01", "running", "stopped")),
      ANSIBLE, ("web_01", "running")),
    M("ansible-inventory-not-yaml", replace("ansible/inventory.yml", "vmid: 101\n",
                                            "vmid: [101\n"), ANSIBLE,
      ("ansible/inventory.yml", "not YAML at line")),
    M("ansible-playbook-targets-missing-group", replace("ansible/playbooks/vms.yml", "hosts: vms:&running",
                                                        "hosts: virtual_machines:&running"), ANSIBLE,
      ("playbooks/vms.yml", "'virtual_machines' is no group")),
    M("ansible-password-in-group-vars", known_password("ansible/group_vars/all.yml",
                                                       "ansible_become_password: {password}"),
      SECRETS, ("ansible/group_vars/all.yml:", "the run's own credential")),
    M("ansible-node-missing", inventory_yaml(_drop_host("pve3")), COVERAGE, ("ansible/inventory.yml", "node pve3",
                                                                            "no host")),
    M("ansible-hypervisor-group-incomplete", inventory_yaml(_add_group("hypervisors", ["pve1", "pve2"])), COVERAGE,
      ("ansible/inventory.yml", "group hypervisors", "lacks node pve3")),
    M("ansible-host-unreachable", inventory_yaml(_drop_var("vms", "web_01", "ansible_host")), COVERAGE,
      ("ansible/inventory.yml", "host web_01", "unreachable")),
    M("ansible-upgrade-on-hypervisors", append("ansible/playbooks/maintenance.yml", play(
        "proxmox_nodes", "Upgrade every package", "ansible.builtin.apt", "upgrade: dist")), PLAYS,
      ("ansible/playbooks/maintenance.yml play 3", "task Upgrade every package", "upgrade=dist", "pve1, pve2, pve3")),
    M("ansible-reboot-through-all", append("ansible/playbooks/maintenance.yml", play(
        "all", "Reboot", "ansible.builtin.reboot", "reboot_timeout: 600")), PLAYS,
      ("maintenance.yml play 3", "task Reboot", "hypervisor nodes", "pve1")),
    M("ansible-shell-on-hypervisors", append("ansible/playbooks/site.yml", play(
        "proxmox_nodes:!pve2", "Renew the certificates", "ansible.builtin.shell", "cmd: pvecm updatecerts --force")),
      PLAYS, ("site.yml play 4", "task Renew the certificates", "without changed_when: false", "pve1, pve3")),
    M("ansible-service-restart-on-protected-guest", append("ansible/playbooks/vms.yml", play(
        "vms:&running", "Restart the web server", "ansible.builtin.service", "name: nginx;state: restarted")), PLAYS,
      ("vms.yml play 2", "task Restart the web server", "protected guests db_01")),
    M("ansible-lint-unnamed-shell-task", replace("ansible/playbooks/maintenance.yml", SHOW_STORAGE, (
        SHOW_STORAGE + "\n    - ansible.builtin.shell: uptime\n")), LINT,
      ("ansible/playbooks/maintenance.yml", "name[missing]")),
    M("ansible-lint-command-without-changed-when", replace("ansible/playbooks/vms.yml", REPORT_VM, (
        "    - name: Restart the guest agent\n      ansible.builtin.command: systemctl restart qemu-guest-agent\n\n"
        + REPORT_VM)), LINT, ("ansible/playbooks/vms.yml", "no-changed-when")),
)


def _param(mutation: Mutation) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=mutation.gap)] if mutation.gap else []
    if mutation.lint:
        marks.append(pytest.mark.slow)  # runs ansible-lint
    return pytest.param(mutation, id=mutation.name, marks=marks)


# --- the tests --------------------------------------------------------------------------------------------


def changed_files(workspace: Path, original: Path) -> set[str]:
    """The files of ``workspace`` (relative POSIX paths, state.db aside) not in ``original`` as they are there."""
    now, before = WorkspaceSnapshot.take(workspace).files, WorkspaceSnapshot.take(original).files
    return {path for path, content in now.items() if before.get(path) != content}


@pytest.fixture(scope="module")
def lint_by_file(reference: Reference, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Finding]]:
    """ansible-lint's findings, by the file they name, on one workspace with every lint mutation applied."""
    root = tmp_path_factory.mktemp("lint-mutations")
    workspace = root / "workspace"
    shutil.copytree(reference.workspaces["bpg"], workspace)
    lint_mutations = [m for m in MUTATIONS if m.lint]
    assert {m.provider for m in lint_mutations} == {"bpg"}, "the lint mutations damage the bpg workspace"
    for mutation in lint_mutations:
        mutation.apply(workspace, reference)
    damaged = changed_files(workspace, reference.workspaces["bpg"])
    check = next(check for check in WORKSPACE_CHECKS if check.name == LINT)
    (root / "scratch").mkdir()
    found = check.run(workspace, reference.inventory, CheckContext(root / "scratch", secrets=(reference.password,),
                                                                   lint_cache=reference.lint_cache,
                                                                   protected=reference.protected))
    by_file: dict[str, list[Finding]] = {}
    for finding in found:
        by_file.setdefault(finding.resource, []).append(finding)
    assert set(by_file) <= damaged, f"ansible-lint found something outside the damaged files: {found}"
    return by_file


@pytest.mark.parametrize("mutation", [_param(m) for m in MUTATIONS])
def test_mutation_is_caught(mutation: Mutation, reference: Reference, tmp_path: Path,
                            request: pytest.FixtureRequest) -> None:
    workspace = tmp_path / "workspace"
    shutil.copytree(reference.workspaces[mutation.provider], workspace)
    mutation.apply(workspace, reference)

    findings, crashes = run_checks(workspace, reference, tmp_path / "scratch", lint=False)
    if mutation.lint:  # ansible-lint's findings on the files this mutation damaged, from the one run for them all
        by_file = request.getfixturevalue("lint_by_file")
        changed = changed_files(workspace, reference.workspaces[mutation.provider])
        findings[LINT] = [finding for path in sorted(changed) for finding in by_file.get(path, [])]
    shown = report(findings, crashes)
    failing = sorted(name for name, found in findings.items() if found)
    assert failing, f"{mutation.name}: no check found anything\n{shown}"
    pointing = [str(f) for f in findings.get(mutation.check, []) if all(s in str(f) for s in mutation.expect)]
    assert pointing, (f"{mutation.name}: no finding of {mutation.check} contains {mutation.expect}; "
                      f"failing checks: {failing}\n{shown}")
    cascaded = [str(f) for found in findings.values() for f in found
                if str(f) not in pointing and any(a in str(f) for a in mutation.absent)]
    assert not cascaded, f"{mutation.name}: one root cause reported again: {cascaded}\n{shown}"
    missed = [name for name in mutation.also if not findings.get(name)]
    assert not missed, f"{mutation.name}: {missed} found nothing\n{shown}"
    assert not crashes, f"{mutation.name}: caught by {failing}, but checks raised instead of reporting\n{shown}"


@pytest.mark.slow  # runs ansible-lint
@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_correct_workspace_passes_every_check(provider: str, reference: Reference, tmp_path: Path) -> None:
    workspace = tmp_path / "workspace"
    shutil.copytree(reference.workspaces[provider], workspace)  # ansible-lint may leave its cache behind
    findings, crashes = run_checks(workspace, reference, tmp_path / "scratch", lint=True)
    assert set(findings) | set(crashes) == set(CHECK_NAMES)
    assert not any(findings.values()) and not crashes, report(findings, crashes)


def test_the_catalogue_covers_every_area() -> None:
    assert len(MUTATIONS) >= 25
    names = [m.name for m in MUTATIONS]
    assert len(set(names)) == len(names), "two mutations share a name"
    caught = {m.check for m in MUTATIONS if not m.gap} | {name for m in MUTATIONS if not m.gap for name in m.also}
    assert caught <= set(CHECK_NAMES), caught - set(CHECK_NAMES)
    assert caught == set(CHECK_NAMES), f"no mutation is caught by {sorted(set(CHECK_NAMES) - caught)}"
    assert {m.check.split("-")[0] for m in MUTATIONS} >= {"database", "terraform", "ansible"}
    assert {m.provider for m in MUTATIONS} == set(PROVIDERS)
