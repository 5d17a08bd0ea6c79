"""Programs a tool runs outside the PVE API (``pytest_proxmox_mpc.programs``): the rules of each phase for ssh, scp,
rsync, Ansible and Terraform, and the shims end to end: first on PATH, asking a safety proxy of a simulated cluster,
the "real" programs (fakes that record their argv, later on PATH) reached only with what the rules allow, every run
audited with its secrets masked."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_proxmox_mpc.programs.install import install_shims
from pytest_proxmox_mpc.programs.judge import ProgramRules, masked_args
from pytest_proxmox_mpc.programs.terraform import judge_plan
from pytest_proxmox_mpc.programs.verdict import REFUSED_EXIT, TempGuests
from pytest_proxmox_mpc.session import ClusterSession, connect
from pytest_proxmox_mpc.sim.cluster import SimCluster

from .doubles.fake_programs import install_fakes, records

RANGE = (990_000, 990_099)
GUESTS = TempGuests({990_001: ("pytest-run-1", ("10.99.0.5",))})
INVENTORY = """all:
  children:
    proxmox_nodes:
      hosts:
        pve1: {ansible_host: 192.0.2.11}
    vms:
      hosts:
        web_01: {ansible_host: 10.0.0.21}
        pytest_run_1: {ansible_host: 10.99.0.5}
        impostor: {ansible_host: 10.0.0.22}
"""


def rules(phase: int, ledger: frozenset[int] = frozenset({990_001}), guests: TempGuests = GUESTS) -> ProgramRules:
    return ProgramRules(phase, ledger, RANGE, lambda: guests)


def plan(*changes: tuple[str, list[str], dict[str, Any] | None, dict[str, Any] | None], **extra: Any) -> str:
    return json.dumps({"resource_changes": [
        {"address": f"{kind}.r{n}", "mode": "managed", "type": kind,
         "change": {"actions": actions, "before": before, "after": after}}
        for n, (kind, actions, before, after) in enumerate(changes)], **extra})


@pytest.mark.parametrize(("program", "args"), [
    ("ssh", ["10.99.0.5", "true"]), ("scp", ["f", "10.99.0.5:/tmp"]), ("rsync", ["-a", "f", "10.99.0.5:/tmp"]),
    ("ansible", ["all", "-m", "ping"]), ("ansible-playbook", ["-i", "inventory.yml", "site.yml"]),
    ("ansible-playbook", ["-i", "inventory.yml", "site.yml", "--check"]),
    ("terraform", ["apply", "-auto-approve"]), ("terraform", ["destroy"]), ("tofu", ["import", "a.b", "990001"]),
    ("terraform", ["state", "rm", "a.b"]),
])
def test_phases_1_and_2_refuse_every_run_that_reaches_a_machine(tmp_path: Path, program: str, args: list[str]) -> None:
    for phase in (1, 2):
        verdict = rules(phase).decide(program, args, tmp_path)
        assert not verdict.allowed and not verdict.needs_plan, (phase, program, args, verdict)


@pytest.mark.parametrize(("program", "args"), [
    ("terraform", ["version"]), ("terraform", ["-chdir=terraform", "init", "-input=false"]), ("terraform", ["plan"]),
    ("terraform", ["validate"]), ("terraform", ["fmt", "-check"]), ("terraform", ["providers"]),
    ("terraform", ["show", "-json", "p"]), ("ansible-playbook", ["site.yml", "--syntax-check"]),
    ("ansible-playbook", ["-i", "inventory.yml", "site.yml", "--list-hosts"]), ("ansible", ["--version"]),
])
def test_phases_1_and_2_allow_what_changes_nothing(tmp_path: Path, program: str, args: list[str]) -> None:
    assert rules(2).decide(program, args, tmp_path).allowed


def test_ssh_reaches_only_this_runs_temporary_guests_pinned_to_their_address(tmp_path: Path) -> None:
    judge = rules(4)
    allowed = judge.decide("ssh", ["-p", "22", "root@pytest-run-1", "uptime"], tmp_path)
    assert allowed.allowed and allowed.args is not None
    assert allowed.args[:6] == ("-o", "HostName=10.99.0.5", "-o", "ProxyCommand=none", "-o", "ProxyJump=none")
    for args in (["root@10.0.0.21", "reboot"], ["-J", "10.99.0.5", "10.0.0.21"], ["-F", "cfg", "10.99.0.5"],
                 ["-o", "ProxyCommand=nc 10.0.0.21 22", "10.99.0.5"], ["-oHostName=10.0.0.21", "10.99.0.5"]):
        assert not judge.decide("ssh", args, tmp_path).allowed, args
    assert not judge.decide("scp", ["f", "10.99.0.5:/a", "web-01:/b"], tmp_path).allowed
    assert not judge.decide("rsync", ["-e", "/usr/bin/ssh", "f", "10.99.0.5:/a"], tmp_path).allowed
    assert not judge.decide("rsync", ["f", "rsync://10.0.0.21/mod"], tmp_path).allowed
    assert judge.decide("rsync", ["-av", "-e", "ssh -p 22", "f", "10.99.0.5:/a"], tmp_path).allowed
    no_address = rules(4, guests=TempGuests({990_001: ("pytest-run-1", ())}))
    assert no_address.decide("ssh", ["pytest-run-1"], tmp_path).rule == "programs:remote-no-address"


def test_ansible_is_limited_to_the_temporary_guests_of_its_inventory_and_an_empty_set_is_refused(
        tmp_path: Path) -> None:
    (tmp_path / "inventory.yml").write_text(INVENTORY, encoding="utf-8")
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "host_vars" / "impostor.yml").write_text("ansible_host: 10.0.0.22\n", encoding="utf-8")
    verdict = rules(4).decide("ansible-playbook", ["-i", "inventory.yml", "site.yml", "-l", "all"], tmp_path)
    assert not verdict.allowed, "a limit pattern cannot be judged"
    verdict = rules(4).decide("ansible-playbook", ["-i", "inventory.yml", "site.yml"], tmp_path)
    assert verdict.allowed and verdict.args == ("-i", "inventory.yml", "site.yml", "--limit", "pytest_run_1")
    nobody = rules(4, guests=TempGuests()).decide("ansible", ["all", "-i", "inventory.yml", "-m", "ping"], tmp_path)
    assert not nobody.allowed and nobody.rule == "programs:ansible-no-temporary-hosts"
    (tmp_path / "dynamic.py").write_text("#!/bin/sh\n", encoding="utf-8")
    (tmp_path / "dynamic.py").chmod(0o755)
    assert not rules(4).decide("ansible-playbook", ["-i", "dynamic.py", "site.yml"], tmp_path).allowed
    assert not rules(4).decide("ansible-playbook", ["-i", "inventory.yml", "-c", "local", "s.yml"], tmp_path).allowed
    # The host named like the guest but pointed elsewhere by host_vars is not the guest.
    (tmp_path / "host_vars" / "pytest_run_1.yml").write_text("ansible_host: 10.0.0.23\n", encoding="utf-8")
    assert not rules(4).decide("ansible-playbook", ["-i", "inventory.yml", "site.yml"], tmp_path).allowed


def test_terraform_apply_is_judged_from_its_plan(tmp_path: Path) -> None:
    judge = rules(4)
    asked = judge.decide("terraform", ["apply", "-auto-approve"], tmp_path)
    assert asked.needs_plan and not asked.allowed
    mine = plan(("proxmox_vm_qemu", ["update"], {"vmid": 990_001}, {"vmid": 990_001}),
                ("proxmox_vm_qemu", ["create"], None, {"vmid": 0}),
                ("proxmox_vm_qemu", ["no-op"], {"vmid": 101}, {"vmid": 101}))
    assert judge.decide("terraform", ["apply", "-auto-approve"], tmp_path, plan=mine).allowed
    for refused in (plan(("proxmox_vm_qemu", ["update"], {"vmid": 101}, {"vmid": 101})),
                    plan(("proxmox_virtual_environment_vm", ["delete"], {"vm_id": 101}, None)),
                    plan(("proxmox_lxc", ["create"], None, {"vmid": 5000})),
                    plan(("local_file", ["create"], None, {})),
                    plan(configuration={"root_module": {"resources": [{"provisioners": [{"type": "remote-exec"}]}]}}),
                    "not json"):
        assert not judge_plan("terraform", "apply", refused, frozenset({990_001}), RANGE).allowed, refused


def test_a_secret_in_a_command_line_is_masked() -> None:
    shown = masked_args(["plan", "-var=proxmox_token_secret=abc123", "-var=default_node=pve1", "-e",
                         "ansible_password=hunter2 x=1", "--token", "s3cr3t-value"], ["s3cr3t-value"])
    assert "abc123" not in shown and "hunter2" not in shown and "s3cr3t-value" not in shown
    assert "default_node=pve1" in shown and "x=1" in shown


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory, homelab_scenario: Path) -> Iterator[SimCluster]:
    cluster = SimCluster(homelab_scenario, tmp_path_factory.mktemp("programs-sim"))
    yield cluster
    cluster.stop()


class Shimmed:
    """A session of ``phase`` with a proxy, the shims first on PATH and the fakes after them."""

    def __init__(self, session: ClusterSession, proxy: Any, folder: Path, plan: Path | None = None) -> None:
        self.session, self.folder = session, folder
        self.record = folder / "record.jsonl"
        fakes = install_fakes(folder / "fakes", self.record, plan)
        path = f"{fakes}{os.pathsep}{os.environ['PATH']}"
        access = proxy.access
        shims = install_shims(folder / "shims", url=access.url, cafile=access.cafile,
                              authorization=access.authorization(), real_path=path)
        self.env = {**os.environ, "PATH": f"{shims}{os.pathsep}{path}"}
        self.secret = access.token_value.reveal()

    def run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(argv), env=self.env, cwd=self.folder, capture_output=True, text=True, check=False)

    def audited(self) -> list[dict[str, Any]]:
        self.session.trail.flush()
        lines = self.session.files.audit.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if '"EXEC"' in line]


def shimmed(sim: SimCluster, tmp_path: Path, phase: int, plan: Path | None = None) -> Iterator[Shimmed]:
    with connect(sim.endpoint, phase=phase, temp_range=RANGE, state_dir=tmp_path) as session, \
            session.proxy() as proxy:
        yield Shimmed(session, proxy, tmp_path, plan)


def test_the_shims_reach_the_real_program_only_with_what_the_rules_allow(sim: SimCluster, tmp_path: Path) -> None:
    for tool in shimmed(sim, tmp_path, 4):
        vm = tool.session.temp_guest("qemu", ipconfig0="ip=10.99.0.5/24")
        (tmp_path / "inventory.yml").write_text(INVENTORY.replace("pytest_run_1", vm.name.replace("-", "_")),
                                                encoding="utf-8")
        refused = tool.run("ssh", "root@192.0.2.11", "reboot")
        assert refused.returncode == REFUSED_EXIT
        assert refused.stderr.strip().splitlines() == [
            "pytest-proxmox-mpc: ssh refused by the safety policy: programs:remote-not-temporary (ssh to 192.0.2.11: "
            "only this run's temporary guests may be reached (by name or by an address the cluster reports))"]
        assert tool.run("ssh", vm.name, "true").returncode == 0
        played = tool.run("ansible-playbook", "-i", "inventory.yml", "site.yml", "-e", f"token={tool.secret}")
        assert played.returncode == 0, played.stderr
        seen = records(tool.record)
        reached = [argv[argv.index("-o") + 1] for argv in seen if argv[0] == "ssh"]
        assert reached == ["HostName=10.99.0.5"] * 2, seen  # the ssh above, and the playbook's one host
        assert [argv[-1] for argv in seen if argv[0] == "ansible-playbook"] == [vm.name.replace("-", "_")]
        audited = tool.audited()
        assert [(line["path"], line["decision"]) for line in audited] == [
            ("ssh", "refused"), ("ssh", "allowed"), ("ansible-playbook", "allowed"), ("ssh", "allowed")]
        assert tool.secret not in json.dumps(audited)
        assert all(line["source"] == "program" and line["method"] == "EXEC" for line in audited)


def test_terraform_apply_of_a_plan_that_changes_a_protected_guest_is_refused_and_never_applied(
        sim: SimCluster, tmp_path: Path) -> None:
    prepared = tmp_path / "plan.json"
    prepared.write_text(plan(("proxmox_vm_qemu", ["update"], {"vmid": 101}, {"vmid": 101, "memory": 1})),
                        encoding="utf-8")
    for tool in shimmed(sim, tmp_path, 4, prepared):
        done = tool.run("terraform", "-chdir=terraform", "apply", "-auto-approve")
        assert done.returncode == REFUSED_EXIT
        assert "programs:terraform-not-temporary" in done.stderr and "proxmox_vm_qemu.r0" in done.stderr
        assert [argv[1:3] for argv in records(tool.record)] == [["-chdir=terraform", "plan"],
                                                               ["-chdir=terraform", "show"]]
        saved = tool.run("terraform", "apply", "deployment.tfplan")  # the real Proxmox-MPC's: a plan it saved
        assert saved.returncode == REFUSED_EXIT and "programs:terraform-not-temporary" in saved.stderr
        assert records(tool.record)[-1] == ["terraform", "show", "-json", "deployment.tfplan"]
        vm = tool.session.temp_guest("qemu")
        prepared.write_text(plan(("proxmox_vm_qemu", ["delete"], {"vmid": vm.vmid}, None)), encoding="utf-8")
        done = tool.run("terraform", "-chdir=terraform", "apply", "-auto-approve")
        assert done.returncode == 0, done.stderr
        applied = [argv for argv in records(tool.record) if "apply" in argv]
        assert len(applied) == 1 and applied[0][-1].endswith("judged.tfplan"), "the judged plan is what is applied"
        assert tool.run("terraform", "apply", "deployment.tfplan").returncode == 0
        assert records(tool.record)[-1] == ["terraform", "apply", "deployment.tfplan"]
        assert [line["decision"] for line in tool.audited()] == ["refused", "refused", "allowed", "allowed"]


def test_phase_2_refuses_the_playbook_and_nothing_reaches_a_host(sim: SimCluster, tmp_path: Path) -> None:
    (tmp_path / "inventory.yml").write_text(INVENTORY, encoding="utf-8")
    for tool in shimmed(sim, tmp_path, 2):
        done = tool.run("ansible-playbook", "-i", "inventory.yml", "site.yml")
        assert done.returncode == REFUSED_EXIT and "programs:ansible-no-hosts" in done.stderr
        assert tool.run("ansible-playbook", "-i", "inventory.yml", "site.yml", "--syntax-check").returncode == 0
        assert [argv[-1] for argv in records(tool.record)] == ["--syntax-check"]


def test_inventories_in_every_form_ansible_reads_are_judged(tmp_path: Path) -> None:
    (tmp_path / "hosts.ini").write_text("# comment\n[web]\nweb-01 ansible_host=10.0.0.21\n[temp]\n"
                                        "tmp1 ansible_host=10.99.0.5 ansible_user=root\n[temp:vars]\nx=1\n"
                                        "[all:children]\nweb\n", encoding="utf-8")
    judge = rules(4)
    limited = judge.decide("ansible-playbook", ["-i", "hosts.ini", "site.yml"], tmp_path)
    assert limited.args is not None and limited.args[-2:] == ("--limit", "tmp1")
    host_list = judge.decide("ansible", ["all", "-i", "10.99.0.5,10.0.0.21", "-m", "ping"], tmp_path)
    assert host_list.args is not None and host_list.args[-2:] == ("--limit", "10.99.0.5")
    env = judge.decide("ansible-playbook", ["site.yml", "--limit=tmp1,web-01"], tmp_path,
                       {"ANSIBLE_INVENTORY": "hosts.ini"})
    assert env.args == ("site.yml", "--limit", "tmp1")
    (tmp_path / "ansible.cfg").write_text("[defaults]\ninventory = hosts.ini\n", encoding="utf-8")
    assert judge.decide("ansible-playbook", ["site.yml"], tmp_path).allowed
    assert judge.decide("ansible-inventory", ["--list"], tmp_path).allowed
    for bad, text in (("range.ini", "[web]\nweb-[01:03]\n"), ("groupvars.ini", "[all:vars]\nansible_host=10.0.0.1\n"),
                      ("broken.yml", "all: [\n"), ("plugin.yml", "plugin: community.general.proxmox\n")):
        (tmp_path / bad).write_text(text, encoding="utf-8")
        verdict = judge.decide("ansible-playbook", ["-i", bad, "site.yml"], tmp_path)
        assert verdict.rule == "programs:ansible-unjudgeable", (bad, verdict)
    (tmp_path / "dir").mkdir()
    for args in (["-i", "dir", "s.yml"], ["-i", "missing.yml", "s.yml"], ["-i"], ["-i", "hosts.ini", "-l", "@f"]):
        assert judge.decide("ansible-playbook", args, tmp_path).rule == "programs:ansible-unjudgeable", args
    (tmp_path / "host_vars" / "tmp1").mkdir(parents=True)
    assert not judge.decide("ansible-playbook", ["-i", "hosts.ini", "s.yml"], tmp_path).allowed
    (tmp_path / "host_vars" / "tmp1").rmdir()
    (tmp_path / "host_vars" / "tmp1.yml").write_text("a: [\n", encoding="utf-8")
    assert not judge.decide("ansible-playbook", ["-i", "hosts.ini", "s.yml"], tmp_path).allowed


def test_terraform_subcommands_beyond_apply(tmp_path: Path) -> None:
    judge = rules(4)
    for args in (["-chdir=x", "state", "list"], ["output", "-json"], ["workspace", "show"], ["-version"], ["-help"],
                 ["import", "proxmox_vm_qemu.a", "pve1/qemu/990001"], []):
        assert judge.decide("terraform", args, tmp_path).allowed, args
    for args in (["state", "rm", "a.b"], ["import", "proxmox_vm_qemu.a", "pve1/qemu/101"], ["taint", "a.b"],
                 ["console"]):
        assert not judge.decide("terraform", args, tmp_path).allowed, args
    assert rules(4, guests=GUESTS).decide("kubectl", ["get"], tmp_path).rule == "programs:unknown"
    listed = ProgramRules(4, frozenset(), RANGE, extra=frozenset({"salt"}))
    assert listed.decide("salt", ["*", "cmd.run"], tmp_path).rule == "programs:listed"


def test_the_guests_addresses_come_from_their_configs_and_interfaces() -> None:
    from pytest_proxmox_mpc.programs.guests import temp_guests

    answers = {
        "/cluster/resources?type=vm": [
            {"vmid": 990001, "type": "qemu", "node": "pve1", "name": "vm1", "status": "running"},
            {"vmid": 990002, "type": "lxc", "node": "pve1", "name": "ct1", "status": "running"},
            {"vmid": 990003, "type": "qemu", "node": "pve1", "name": "gone", "status": "stopped"},
            {"vmid": 101, "type": "qemu", "node": "pve1", "name": "web-01", "status": "running"}],
        "/nodes/pve1/qemu/990001/config": {"ipconfig0": "ip=10.99.0.5/24,gw=10.99.0.1", "net0": "virtio,bridge=v"},
        "/nodes/pve1/qemu/990001/agent/network-get-interfaces": {"result": [
            {"name": "lo", "ip-addresses": [{"ip-address": "127.0.0.1"}]},
            {"name": "eth0", "ip-addresses": [{"ip-address": "10.99.0.6"}, {"ip-address": "fe80::1"}]}]},
        "/nodes/pve1/lxc/990002/config": {"net0": "name=eth0,bridge=vmbr9,ip=dhcp"},
        "/nodes/pve1/lxc/990002/interfaces": [{"name": "eth0", "inet": "10.99.0.7/24"}, "odd"],
    }

    def get(path: str) -> Any:
        if path not in answers:
            raise OSError(path)
        return answers[path]
    found = temp_guests(get, [990001, 990002, 990003])
    assert found.guests == {990001: ("vm1", ("10.99.0.5", "10.99.0.6")), 990002: ("ct1", ("10.99.0.7",)),
                            990003: ("gone", ())}
    assert temp_guests(get, []).guests == {}
    assert found.is_guest("10.99.0.7") and not found.is_guest("web-01") and found.address_of("ct1") == "10.99.0.7"


def test_a_shim_refuses_when_it_cannot_ask_and_says_why(tmp_path: Path) -> None:
    shims = install_shims(tmp_path / "shims", url="https://127.0.0.1:9", cafile=tmp_path / "none.pem",
                          authorization="x", real_path=os.environ["PATH"])
    done = subprocess.run([str(shims / "ssh"), "host"], capture_output=True, text=True, check=False)
    assert done.returncode == REFUSED_EXIT
    assert done.stderr.startswith("pytest-proxmox-mpc: ssh refused by the safety policy: programs:unreachable")
    (shims / "shim.json").write_text("{", encoding="utf-8")
    done = subprocess.run([str(shims / "ssh"), "host"], capture_output=True, text=True, check=False)
    assert done.returncode == REFUSED_EXIT and "shim.json cannot be read" in done.stderr


def test_a_program_not_installed_is_exit_127_and_a_bad_question_is_refused(sim: SimCluster, tmp_path: Path) -> None:
    for tool in shimmed(sim, tmp_path, 2):
        tool.env["PATH"] = tool.env["PATH"].replace(str(tmp_path / "fakes"), str(tmp_path / "nothing"))
        shims = tmp_path / "shims"
        config = json.loads((shims / "shim.json").read_text(encoding="utf-8"))
        config["path"] = str(tmp_path / "nothing")
        (shims / "shim.json").write_text(json.dumps(config), encoding="utf-8")
        done = tool.run("terraform", "version")
        assert done.returncode == 127 and "terraform: not installed" in done.stderr
        assert tool.run("terraform", "apply").returncode == REFUSED_EXIT  # phase 2: refused before any plan
        import urllib.request
        asked = urllib.request.Request(config["url"], data=b"{}", method="POST",
                                       headers={"Authorization": config["authorization"]})
        import ssl
        with urllib.request.urlopen(asked, context=ssl.create_default_context(cafile=config["cafile"])) as answer:
            assert json.loads(answer.read())["data"]["rule"] == "programs:unreadable"
        wrong = urllib.request.Request(config["url"], data=b"{}", method="POST", headers={"Authorization": "x"})
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(wrong, context=ssl.create_default_context(cafile=config["cafile"]))
