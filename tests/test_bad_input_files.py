"""Bad input, table-driven: the files a user names (an exclusion list, a profile of the tool, a scenario of the
simulated cluster, an API schema). Each row: exit 4 before any test runs, one ERROR line naming the setting and the
file (and its line, where the file has lines), no traceback, no secret, no file changed (``tests/badinput.py``)."""

from __future__ import annotations

import json

import pytest

from pytest_proxmox_mpc.sut.profile import PACKAGED

from .badinput import LIVE, Mistake, check

PROFILE = (PACKAGED / "proxmox-mpc.yaml").read_text(encoding="utf-8")
STATUS = "  status:\n    phase: 1\n    via: console\n    run: /status\n"
STATUS_STEP = STATUS + '    success: ["Status: .*Connected"]\n    failure: ["❌"]\n'
assert STATUS_STEP in PROFILE


def exclusions(text: str | bytes, says: str, *args: str) -> Mistake:
    return Mistake(args=("--pve-exclusions=ex.yaml", *args), files={"ex.yaml": text}, says=f"ex.yaml:{says}")


def profile(old: str, new: str, line_of: str, says: str) -> Mistake:
    """The packaged profile with ``old`` replaced by ``new``: the error names p.yaml and the line of ``line_of``."""
    assert old in PROFILE
    text = PROFILE.replace(old, new, 1)
    line = text[:text.index(line_of)].count("\n") + 1
    return Mistake(args=("--mpc-profile=p.yaml",), files={"p.yaml": text}, says=f"p.yaml:{line}: {says}")


def scenario(data: object, says: str) -> Mistake:
    return Mistake(args=("--pve-sim-scenario=s.json",), files={"s.json": json.dumps(data)},
                   says=f"/s.json: {says}")


def schema(text: str | bytes, says: str) -> Mistake:
    return Mistake(args=("--pve-api-schema=s.json", "--pve-max-phase=3"), files={"s.json": text},
                   says=f"s.json: {says}")


GUEST = {"vmid": 100, "name": "web", "type": "qemu"}

MISTAKES = {
    # exclusion lists
    "exclusions-vmid-leading-zero": exclusions("protect:\n  vmids: [0144]\n", "2: vmids: '0144'"),
    "exclusions-vmid-too-small": exclusions("protect:\n  vmids: [5]\n", "2: vmids: 5 is out of range"),
    "exclusions-range-backwards": exclusions("protect:\n  vmids: ['300-200']\n", "2: vmids: '300-200' is not a valid"),
    "exclusions-vmid-a-word": exclusions("protect:\n  vmids: [web]\n", "2: vmids: 'web' is not a vmid"),
    "exclusions-vmid-true": exclusions("protect:\n  vmids: [true]\n", "2: vmids: expected a vmid or 'A-B' range"),
    "exclusions-names-not-a-list": exclusions("protect:\n  names: web\n", "2: names: expected a list, got str"),
    "exclusions-empty-name": exclusions("protect:\n  names: ['  ']\n", "2: names: expected a non-empty string"),
    "exclusions-tag-a-number": exclusions("protect:\n  tags: [5]\n", "2: tags: expected a string, got int"),
    "exclusions-duplicate-key": exclusions("protect:\n  names: [a]\n  names: [b]\n", "3: protect: duplicate key"),
    "exclusions-a-list": exclusions("- protect\n", "1: expected a mapping with a 'protect' key, got list"),
    "exclusions-protect-a-list": exclusions("protect: [100]\n", "1: protect: expected a mapping, got list"),
    "exclusions-no-protect": exclusions("protected:\n  vmids: [100]\n", "1: unknown key 'protected'"),
    "exclusions-empty": exclusions("", "1: empty exclusion file"),
    "exclusions-only-a-comment": exclusions("# nothing yet\n", "1: empty exclusion file"),
    "exclusions-two-documents": exclusions("protect:\n---\nprotect:\n", "2: not valid YAML"),
    "exclusions-a-tab": exclusions("protect:\n\tvmids: [100]\n", "2: not valid YAML"),
    "exclusions-a-python-tag": exclusions("protect: !!python/object:os.system {}\n", "1: protect: expected a mapping"),
    "exclusions-key-a-number": exclusions("protect:\n  5: [100]\n", "2: protect: expected a string key, got int"),
    "exclusions-empty-on-live-sweep": Mistake(args=(*LIVE, "--pve-sweep", "--pve-exclusions=ex.yaml"),
                                              files={"ex.yaml": "protect:\n  vmids: []\n"},
                                              says="ex.yaml: protects nothing"),
    # profiles of the tool
    "profile-unknown-key": profile("name: proxmox-mpc\n", "name: proxmox-mpc\ncolour: red\n", "colour",
                                   "profile: unknown key 'colour'"),
    "profile-phase-five": profile(STATUS, STATUS.replace("phase: 1", "phase: 5"), "phase: 5",
                                  "steps.status.phase: expected 1, 2, 3 or 4"),
    "profile-via-ssh": profile(STATUS, STATUS.replace("via: console", "via: ssh"), "via: ssh",
                               "steps.status.via: expected console or cli, got 'ssh'"),
    "profile-run-empty": profile(STATUS, STATUS.replace("run: /status", "run: ''"), "run: ''",
                                 "steps.status.run: expected a non-empty string"),
    "profile-unknown-placeholder": profile(STATUS, STATUS.replace("run: /status", "run: /status {nosuch}"),
                                           "run: /status {nosuch}", "steps.status.run: unknown placeholder {nosuch}"),
    "profile-broken-template": profile(STATUS, STATUS.replace("run: /status", "run: '/status {'"), "run: '/status {'",
                                       "steps.status.run: not a valid template"),
    "profile-broken-regex": profile('success: ["Status: .*Connected"]', 'success: ["Status: ("]', 'success: ["Status',
                                    "steps.status.success[1]: not a regular expression"),
    "profile-step-missing-run": profile(STATUS, STATUS.replace("    run: /status\n", ""), "    phase: 1\n    via: c",
                                        "steps.status: missing key 'run'"),
    "profile-step-not-a-mapping": profile(STATUS_STEP, "  status: /status\n", "  status: /", "steps.status: "
                                          "expected a mapping"),
    "profile-timeout-negative": profile(STATUS, STATUS + "    timeout: -3\n", "timeout: -3",
                                        "steps.status.timeout: expected a positive number of seconds"),
    "profile-secret-typed-in-the-open": profile('answer: "{token_secret}", secret: true, keys: true',
                                                'answer: "{token_secret}"', '- {prompt: "(?i)token secret"',
                                                "init.answers[5].answer: types {token_secret}: mark it secret: "
                                                "true"),
    "profile-restart-after-maybe": profile("restart_after: true", "restart_after: maybe", "restart_after: maybe",
                                           "init.restart_after: expected true or false"),
    "profile-no-console": profile(PROFILE[PROFILE.index("console:"):PROFILE.index("# Without --mpc-cli")], "",
                                  "name: proxmox-mpc",
                                  "profile: missing key 'console'"),
    "profile-not-yaml": Mistake(args=("--mpc-profile=p.yaml",), files={"p.yaml": "name: [x\n"},
                                says="p.yaml:2: not valid YAML"),
    "profile-empty": Mistake(args=("--mpc-profile=p.yaml",), files={"p.yaml": ""}, says="p.yaml:1: empty profile"),
    "profile-a-directory": Mistake(args=("--mpc-profile=prof.yaml",), files={"prof.yaml/x": ""},
                                   says="'prof.yaml' is neither a packaged profile (proxmox-mpc) nor a file"),
    "profile-not-utf8": Mistake(args=("--mpc-profile=p.yaml",), files={"p.yaml": b"name: \xff\n"},
                                says="p.yaml: cannot read: not UTF-8"),
    "profile-huge": Mistake(args=("--mpc-profile=p.yaml",), files={"p.yaml": "#" * (1024 * 1024 + 1)},
                            says="p.yaml: cannot read: larger than"),
    "profile-missing-file": Mistake(args=("--mpc-profile=nosuch.yaml",), says="'nosuch.yaml' is neither a packaged "
                                    "profile"),
    # scenarios of the simulated cluster
    "scenario-a-list": scenario([GUEST], 'expected an object with a "guests" list'),
    "scenario-guests-an-object": scenario({"guests": GUEST}, 'expected an object with a "guests" list'),
    "scenario-unknown-key": scenario({"guests": [], "vms": []}, "unknown key 'vms'"),
    "scenario-vmid-a-word": scenario({"guests": [{**GUEST, "vmid": "web"}]}, "guests[0]: vmid must be an integer"),
    "scenario-vmid-twice": scenario({"guests": [GUEST, GUEST]}, "guests[1]: vmid 100 is used twice"),
    "scenario-type-docker": scenario({"guests": [{**GUEST, "type": "docker"}]}, "guests[0]: type must be qemu or lxc"),
    "scenario-vm-without-name": scenario({"guests": [{"vmid": 100}]}, "guests[0]: a qemu guest needs a name"),
    "scenario-config-a-list": scenario({"guests": [{**GUEST, "config": []}]}, "guests[0]: config must be an object"),
    "scenario-storages-a-list": scenario({"guests": [], "storages": []}, "storages must be an object"),
    "scenario-not-utf8": Mistake(args=("--pve-sim-scenario=s.json",), files={"s.json": b'{"guests": ["\xff"]}'},
                                 says="s.json: cannot read: not UTF-8"),
    "scenario-cut-short": Mistake(args=("--pve-sim-scenario=s.json",), files={"s.json": '{"guests": [\n{"vmid": 1'},
                                  says="s.json:2: not valid JSON"),
    # API schema files (they classify writes: phases 3 and 4)
    "schema-not-json": schema("{nope", "not a PVE API schema"),
    "schema-empty": schema("", "not a PVE API schema"),
    "schema-no-paths": schema('{"paths": {}}', "not a PVE API schema: it lists no API paths"),
    "schema-apidoc-broken": schema("const apiSchema = [{nope];\n", "not a PVE API schema: its apiSchema is not JSON"),
    "schema-apidoc-not-a-list": schema('const apiSchema = {"a": 1};\n', "not a PVE API schema: its apiSchema is "
                                       "not a list of paths"),
    "schema-a-directory": Mistake(args=("--pve-api-schema=sch", "--pve-max-phase=3"), files={"sch/x": ""},
                                  says="sch: cannot read: a directory"),
}


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_a_mistaken_input_file_is_one_line_naming_it_before_any_test_runs(
        name: str, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    check(MISTAKES[name], pytester, monkeypatch)
