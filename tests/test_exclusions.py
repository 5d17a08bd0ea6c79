"""The production exclusion list: what it protects, and how a malformed file is refused with its line."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_proxmox_mpc.errors import ExclusionError
from pytest_proxmox_mpc.model.inventory import GuestFacts
from pytest_proxmox_mpc.safety.exclusions import VMID_MAX, VMID_MIN, ExclusionList

EXAMPLE = """\
protect:
  vmids: [100, 101, "200-299"]
  names: ["prod-*", "db-?"]
  tags: [production]
  pools: [prod]
  nodes: [pve-prod-1]      # no guest on these nodes may be written
  storages: [ceph-prod]    # no disk on these storages may be created or removed
"""


@pytest.fixture
def example(tmp_path: Path) -> ExclusionList:
    path = tmp_path / "exclusions.yml"
    path.write_text(EXAMPLE)
    return ExclusionList.load(path)


def error_for(tmp_path: Path, text: str) -> str:
    """Load ``text`` from a file and return the one-line error message."""
    path = tmp_path / "bad.yml"
    path.write_text(text)
    with pytest.raises(ExclusionError) as info:
        ExclusionList.load(path)
    message = str(info.value)
    assert "\n" not in message
    return message.replace(str(path), "<file>")


def test_example_parses_into_sets_and_ranges(example: ExclusionList, tmp_path: Path) -> None:
    assert example.vmids == {100, 101}
    assert example.vmid_ranges == ((200, 299),)
    assert example.names == ("prod-*", "db-?")
    assert example.tags == {"production"}
    assert example.pools == {"prod"}
    assert example.nodes == {"pve-prod-1"}
    assert example.storages == {"ceph-prod"}
    assert example.source == str(tmp_path / "exclusions.yml")
    assert not example.is_empty()


def test_parse_without_file_and_string_vmids() -> None:
    parsed = ExclusionList.parse("protect:\n  vmids: ['105', ' 400 - 410 ', 400-410]\n  tags: [Prod, PROD]\n")
    assert parsed.vmids == {105}
    assert parsed.vmid_ranges == ((400, 410),)
    assert parsed.tags == {"prod"}
    assert parsed.source == "<exclusions>"


@pytest.mark.parametrize("text", ["protect:\n", "protect: {}\n", "protect:\n  vmids:\n  names: []\n"])
def test_empty_protect_is_an_empty_list(text: str) -> None:
    parsed = ExclusionList.parse(text, "x.yml")
    assert parsed.is_empty()
    assert parsed.summary() == "exclusions: none (from x.yml)"
    assert not parsed.protects(vmid=100, name="prod", node="n", storage="s", tags=["t"], pool="p")


def test_empty() -> None:
    empty = ExclusionList.empty()
    assert empty.is_empty()
    assert empty.source is None
    assert empty.summary() == "exclusions: none"
    assert empty.why(vmid=100) is None


@pytest.mark.parametrize(("vmid", "protected"), [
    (99, False), (100, True), (101, True), (102, False),
    (199, False), (200, True), (250, True), (299, True), (300, False),
])
def test_vmids_and_range_boundaries(example: ExclusionList, vmid: int, protected: bool) -> None:
    assert example.protects(vmid=vmid) is protected
    assert (example.why(vmid=vmid) is not None) is protected


@pytest.mark.parametrize(("kwargs", "reason"), [
    ({"vmid": 101}, "vmid 101 is protected"),
    ({"vmid": 250}, "vmid 250 is in protected range 200-299"),
    ({"name": "prod-web"}, "name 'prod-web' matches protected pattern 'prod-*'"),
    ({"name": "db-1"}, "name 'db-1' matches protected pattern 'db-?'"),
    ({"tags": ["production"]}, "tag 'production' is protected"),
    ({"tags": ["web", "Production"]}, "tag 'Production' is protected"),
    ({"tags": "PRODUCTION"}, "tag 'PRODUCTION' is protected"),
    ({"pool": "prod"}, "pool 'prod' is protected"),
    ({"node": "pve-prod-1"}, "node 'pve-prod-1' is protected"),
    ({"storage": "ceph-prod"}, "storage 'ceph-prod' is protected"),
])
def test_why_names_the_matching_rule(example: ExclusionList, kwargs: dict[str, object], reason: str) -> None:
    assert example.why(**kwargs) == reason  # type: ignore[arg-type]
    assert example.protects(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("kwargs", [
    {}, {"vmid": 102}, {"name": "db-10"}, {"name": "Prod-web"}, {"name": "staging-prod"},
    {"tags": ["staging", "prod"]}, {"pool": "Prod"}, {"node": "pve-prod-2"}, {"storage": "local-lvm"},
    {"vmid": 102, "name": "web", "node": "pve1", "storage": "local", "tags": ["web"], "pool": "dev"},
])
def test_unprotected_facts(example: ExclusionList, kwargs: dict[str, object]) -> None:
    assert not example.protects(**kwargs)  # type: ignore[arg-type]
    assert example.why(**kwargs) is None  # type: ignore[arg-type]


def test_any_protected_fact_is_enough(example: ExclusionList) -> None:
    assert example.protects(vmid=102, name="web", node="pve1", storage="ceph-prod")
    assert example.why(vmid=250, name="prod-web") == "vmid 250 is in protected range 200-299"


def test_guests_and_resolve(example: ExclusionList) -> None:
    guests = [
        GuestFacts(101),
        GuestFacts(500, name="db-2"),
        GuestFacts(501, name="web", node="pve-prod-1"),
        GuestFacts(502, tags=frozenset({"Production"})),
        GuestFacts(503, pool="prod"),
        GuestFacts(504, name="web", node="pve1", tags=frozenset({"web"}), pool="dev"),
        GuestFacts(505),
    ]
    assert example.resolve(guests) == {101, 500, 501, 502, 503}
    assert example.protects_guest(guests[2])
    assert not example.protects_guest(guests[-1])
    assert example.why_guest(guests[3]) == "tag 'Production' is protected"
    assert example.why_guest(guests[-1]) is None
    assert ExclusionList.empty().resolve(guests) == frozenset()


def test_summary(example: ExclusionList, tmp_path: Path) -> None:
    assert example.summary() == (
        "exclusions: 2 vmids, 1 range, 2 name patterns, 1 tag, 1 pool, 1 node, 1 storage "
        f"(from {tmp_path / 'exclusions.yml'})"
    )
    parsed = ExclusionList.parse("protect:\n  vmids: [100, 200-300, 400-500]\n  storages: [a, b]\n", "f")
    assert parsed.summary() == "exclusions: 1 vmid, 2 ranges, 2 storages (from f)"


@pytest.mark.parametrize(("text", "expected"), [
    ("", "<file>:1: empty exclusion file: expected a 'protect' mapping"),
    ("# only a comment\n", "<file>:1: empty exclusion file: expected a 'protect' mapping"),
    ("- 100\n", "<file>:1: expected a mapping with a 'protect' key, got list"),
    ("protect\n", "<file>:1: expected a mapping with a 'protect' key, got str"),
    ("{}\n", "<file>:1: missing 'protect' key"),
    ("protect:\n  vmids: [100]\nextra: 1\n", "<file>:3: unknown key 'extra' (allowed: protect)"),
    ("protect: [100]\n", "<file>:1: protect: expected a mapping, got list"),
    ("protect:\n  tags: [a]\n  vmid: [100]\n",
     "<file>:3: protect: unknown key 'vmid' (allowed: vmids, names, tags, pools, nodes, storages)"),
    ("protect:\n  1: [a]\n", "<file>:2: protect: expected a string key, got int"),
    ("protect:\n  vmids: []\n  tags: []\n  vmids: [100]\n",
     "<file>:4: protect: duplicate key 'vmids' (first at line 2)"),
    ("protect:\n  vmids: []\nprotect:\n", "<file>:3: duplicate key 'protect' (first at line 1)"),
    ("protect:\n  vmids: 100\n", "<file>:2: vmids: expected a list, got int"),
    ("protect:\n  nodes: pve1\n", "<file>:2: nodes: expected a list, got str"),
    ("protect:\n  vmids:\n    - 100\n    - '300-200'\n",
     "<file>:4: vmids: '300-200' is not a valid range (start after end)"),
    ("protect:\n  vmids:\n    - 100\n    - 50-150\n",
     "<file>:4: vmids: '50-150' is not a valid range (50 is out of range 100-999999999)"),
    ("protect:\n  vmids:\n    - 200-1000000000\n",
     "<file>:3: vmids: '200-1000000000' is not a valid range (1000000000 is out of range 100-999999999)"),
    ("protect:\n  vmids:\n    - 99\n", "<file>:3: vmids: 99 is out of range 100-999999999"),
    ("protect:\n  vmids:\n    - 1000000000\n", "<file>:3: vmids: 1000000000 is out of range 100-999999999"),
    ("protect:\n  vmids:\n    - '42'\n", "<file>:3: vmids: 42 is out of range 100-999999999"),
    ("protect:\n  vmids:\n    - true\n", "<file>:3: vmids: expected a vmid or 'A-B' range, got bool"),
    ("protect:\n  vmids:\n    - 1.5\n", "<file>:3: vmids: expected a vmid or 'A-B' range, got float"),
    ("protect:\n  vmids:\n    -\n", "<file>:3: vmids: expected a vmid or 'A-B' range, got null"),
    ("protect:\n  vmids:\n    - [100]\n", "<file>:3: vmids: expected a vmid or 'A-B' range, got list"),
    ("protect:\n  vmids:\n    - 0144\n", "<file>:3: vmids: '0144' is not a vmid or 'A-B' range"),
    ("protect:\n  vmids:\n    - 0x100\n", "<file>:3: vmids: '0x100' is not a vmid or 'A-B' range"),
    ("protect:\n  vmids:\n    - abc\n", "<file>:3: vmids: 'abc' is not a vmid or 'A-B' range"),
    ("protect:\n  vmids:\n    - 100-200-300\n", "<file>:3: vmids: '100-200-300' is not a vmid or 'A-B' range"),
    ("protect:\n  names: [a]\n\n  tags:\n    - prod\n    - 5\n", "<file>:6: tags: expected a string, got int"),
    ("protect:\n  tags:\n    - yes\n", "<file>:3: tags: expected a string, got bool"),
    ("protect:\n  names:\n    - ''\n", "<file>:3: names: expected a non-empty string"),
    ("protect:\n  pools:\n    - '  '\n", "<file>:3: pools: expected a non-empty string"),
    ("protect:\n  nodes:\n    - {pve1: x}\n", "<file>:3: nodes: expected a string, got mapping"),
    ("protect:\n  storages:\n    - [ceph]\n", "<file>:3: storages: expected a string, got list"),
    ("protect:\n  names:\n    - !!python/name:os.system x\n",
     "<file>:3: names: expected a string, got python/name:os.system"),
])
def test_malformed_file_names_file_and_line(tmp_path: Path, text: str, expected: str) -> None:
    assert error_for(tmp_path, text) == expected


@pytest.mark.parametrize(("text", "prefix"), [
    ("protect:\n  vmids: [100\n  names: [a]\n", "<file>:3: not valid YAML: "),
    ("protect:\n  names: [a]\n\tnodes: [b]\n", "<file>:3: not valid YAML: found character '\\t'"),
    ("protect:\n  names: 'a\n", "<file>:3: not valid YAML: found unexpected end of stream"),
    ("protect:\n---\nprotect:\n", "<file>:2: not valid YAML: "),
    ("protect:\n  names: [\x01]\n", "<file>:2: not valid YAML: "),
])
def test_yaml_syntax_error_names_its_line(tmp_path: Path, text: str, prefix: str) -> None:
    assert error_for(tmp_path, text).startswith(prefix)


def test_unreadable_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yml"
    with pytest.raises(ExclusionError) as info:
        ExclusionList.load(missing)
    assert str(info.value) == f"{missing}: cannot read: {os.strerror(2)}"
    with pytest.raises(ExclusionError, match="cannot read: "):
        ExclusionList.load(str(tmp_path))
    binary = tmp_path / "binary.yml"
    binary.write_bytes(b"protect:\n  names: [\xff]\n")
    with pytest.raises(ExclusionError, match="cannot read: not UTF-8") as info:
        ExclusionList.load(binary)
    assert "\n" not in str(info.value)


def test_error_is_a_value_error_and_pickles() -> None:
    with pytest.raises(ValueError) as info:
        ExclusionList.parse("protect:\n  bogus: []\n", "f.yml")
    copy = pickle.loads(pickle.dumps(info.value))
    assert str(copy) == str(info.value)
    assert isinstance(copy, ExclusionError)
    assert (copy.source, copy.line) == ("f.yml", 2)


def test_problem_with_newlines_is_one_line() -> None:
    assert str(ExclusionError("f", 3, "a\nb\n  c")) == "f:3: a b c"


vmid_values = st.integers(min_value=VMID_MIN, max_value=VMID_MIN + 2000)


@given(
    vmids=st.lists(vmid_values, max_size=8),
    ranges=st.lists(st.tuples(vmid_values, vmid_values).map(sorted).map(tuple), max_size=5),
    probe=st.integers(min_value=0, max_value=VMID_MIN + 2100),
)
def test_vmid_protection_matches_the_definition(vmids: list[int], ranges: list[tuple[int, int]], probe: int) -> None:
    entries = [str(v) for v in vmids] + [f"'{a}-{b}'" for a, b in ranges]
    parsed = ExclusionList.parse(f"protect:\n  vmids: [{', '.join(entries)}]\n")
    expected = probe in vmids or any(a <= probe <= b for a, b in ranges)
    assert parsed.protects(vmid=probe) is expected
    assert (parsed.why(vmid=probe) is None) is not expected


@given(st.integers(min_value=VMID_MIN, max_value=VMID_MAX), st.integers(min_value=VMID_MIN, max_value=VMID_MAX))
def test_any_valid_range_round_trips(a: int, b: int) -> None:
    low, high = min(a, b), max(a, b)
    parsed = ExclusionList.parse(f"protect:\n  vmids: ['{low}-{high}']\n")
    assert parsed.vmid_ranges == ((low, high),)
    assert parsed.protects(vmid=low) and parsed.protects(vmid=high)
    assert not parsed.protects(vmid=low - 1) and not parsed.protects(vmid=high + 1)
