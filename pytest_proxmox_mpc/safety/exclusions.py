"""The production exclusion list: guests, nodes and storages that no test may ever write to.

The list comes from a small YAML file with one ``protect`` mapping. Parsing fails closed: whatever
the parser cannot understand is an ``ExclusionError`` naming the file and line, never ignored, since
a silently dropped entry would leave a production guest unprotected. Nothing here imports pytest.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase

import yaml

from ..errors import ExclusionError, UnreadableInput
from ..files.inputs import read_text_input
from ..model.inventory import GuestFacts
from ..model.vmids import VMID_MAX, VMID_MIN

STRING_KEYS = ("names", "tags", "pools", "nodes", "storages")
KEYS = ("vmids", *STRING_KEYS)

_STD = "tag:yaml.org,2002:"
# Leading zeros are refused: YAML 1.1 reads an unquoted 0144 as octal 100, which nobody means.
_NUMBER = r"(0|[1-9][0-9]*)"


def _kind(node: yaml.Node) -> str:
    """The node's type as a user would name it: str, int, bool, null, list, mapping, or its tag."""
    if isinstance(node, yaml.MappingNode):
        return "mapping" if node.tag == _STD + "map" else node.tag
    if isinstance(node, yaml.SequenceNode):
        return "list" if node.tag == _STD + "seq" else node.tag
    return node.tag.removeprefix(_STD)


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1 if node.start_mark is not None else 1


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


class _Parser:
    """Walks the composed node tree; every error names the line of the node at fault."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, node: yaml.Node | None, problem: str) -> ExclusionError:
        return ExclusionError(self.source, 1 if node is None else _line(node), problem)

    def mapping(self, node: yaml.MappingNode, allowed: tuple[str, ...], where: str) -> dict[str, yaml.Node]:
        items: dict[str, yaml.Node] = {}
        lines: dict[str, int] = {}
        for key, value in node.value:
            if _kind(key) != "str":
                raise self.error(key, f"{where}expected a string key, got {_kind(key)}")
            name = str(key.value)
            if name in items:
                raise self.error(key, f"{where}duplicate key {name!r} (first at line {lines[name]})")
            if name not in allowed:
                raise self.error(key, f"{where}unknown key {name!r} (allowed: {', '.join(allowed)})")
            items[name], lines[name] = value, _line(key)
        return items

    def entries(self, key: str, node: yaml.Node | None) -> list[yaml.ScalarNode]:
        """The scalar entries of a list (null or absent = empty); vmids may be int or str, others str only."""
        if node is None or _kind(node) == "null":
            return []
        if not isinstance(node, yaml.SequenceNode) or _kind(node) != "list":
            raise self.error(node, f"{key}: expected a list, got {_kind(node)}")
        kinds, wanted = (("int", "str"), "a vmid or 'A-B' range") if key == "vmids" else (("str",), "a string")
        for entry in node.value:
            if not isinstance(entry, yaml.ScalarNode) or _kind(entry) not in kinds:
                raise self.error(entry, f"{key}: expected {wanted}, got {_kind(entry)}")
        return list(node.value)

    def vmid(self, node: yaml.ScalarNode) -> int | tuple[int, int]:
        text = str(node.value).strip()
        if re.fullmatch(_NUMBER, text):
            if not VMID_MIN <= int(text) <= VMID_MAX:
                raise self.error(node, f"vmids: {text} is out of range {VMID_MIN}-{VMID_MAX}")
            return int(text)
        match = re.fullmatch(rf"{_NUMBER}\s*-\s*{_NUMBER}", text) if _kind(node) == "str" else None
        if match is None:
            raise self.error(node, f"vmids: {text!r} is not a vmid or 'A-B' range")
        start, end = int(match[1]), int(match[2])
        for bound in (start, end):
            if not VMID_MIN <= bound <= VMID_MAX:
                raise self.error(node, f"vmids: {text!r} is not a valid range "
                                       f"({bound} is out of range {VMID_MIN}-{VMID_MAX})")
        if start > end:
            raise self.error(node, f"vmids: {text!r} is not a valid range (start after end)")
        return start, end

    def strings(self, key: str, node: yaml.Node | None) -> list[str]:
        values = []
        for entry in self.entries(key, node):
            # Stripped: ' prod-db' would otherwise protect nothing while looking right.
            value = str(entry.value).strip()
            if not value:
                raise self.error(entry, f"{key}: expected a non-empty string")
            values.append(value)
        return values

    def document(self, text: str) -> ExclusionList:
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            problem = exc.problem or exc.context or "unknown error"
            if exc.problem and exc.context:
                problem += f" ({exc.context})"
            raise ExclusionError(self.source, mark.line + 1 if mark else 1, f"not valid YAML: {problem}") from exc
        except yaml.reader.ReaderError as exc:
            line = text.count("\n", 0, int(exc.position)) + 1
            raise ExclusionError(self.source, line, f"not valid YAML: {exc.reason}") from exc
        if root is None or _kind(root) == "null":
            raise self.error(None, "empty exclusion file: expected a 'protect' mapping")
        if not isinstance(root, yaml.MappingNode) or _kind(root) != "mapping":
            raise self.error(root, f"expected a mapping with a 'protect' key, got {_kind(root)}")
        top = self.mapping(root, ("protect",), "")
        if "protect" not in top:
            raise self.error(root, "missing 'protect' key")
        protect = top["protect"]
        if _kind(protect) == "null":
            return replace(ExclusionList.empty(), source=self.source)
        if not isinstance(protect, yaml.MappingNode) or _kind(protect) != "mapping":
            raise self.error(protect, f"protect: expected a mapping, got {_kind(protect)}")
        sections = self.mapping(protect, KEYS, "protect: ")
        vmids: set[int] = set()
        ranges: list[tuple[int, int]] = []
        for entry in self.entries("vmids", sections.get("vmids")):
            parsed = self.vmid(entry)
            if isinstance(parsed, int):
                vmids.add(parsed)
            else:
                ranges.append(parsed)
        found = {key: self.strings(key, sections.get(key)) for key in STRING_KEYS}
        return ExclusionList(
            vmids=frozenset(vmids), vmid_ranges=tuple(sorted(set(ranges))), names=tuple(dict.fromkeys(found["names"])),
            tags=frozenset(tag.lower() for tag in found["tags"]), pools=frozenset(found["pools"]),
            nodes=frozenset(found["nodes"]), storages=frozenset(found["storages"]), source=self.source,
        )


@dataclass(frozen=True)
class ExclusionList:
    """What must never be written to. Build it with ``load``, ``parse`` or ``empty``."""

    vmids: frozenset[int]
    vmid_ranges: tuple[tuple[int, int], ...]  # inclusive
    names: tuple[str, ...]  # fnmatch-style patterns, matched case-sensitively
    tags: frozenset[str]  # lower-cased: PVE lower-cases tags
    pools: frozenset[str]
    nodes: frozenset[str]
    storages: frozenset[str]
    source: str | None = None  # the file it was loaded from, for messages

    @classmethod
    def empty(cls) -> ExclusionList:
        return cls(frozenset(), (), (), frozenset(), frozenset(), frozenset(), frozenset())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ExclusionList:
        source = os.fspath(path)
        try:
            text = read_text_input(source, "exclusion list")
        except UnreadableInput as exc:
            raise ExclusionError(source, None, exc.problem) from None
        return cls.parse(text, source)

    @classmethod
    def parse(cls, text: str, source: str = "<exclusions>") -> ExclusionList:
        return _Parser(source).document(text)

    def merged(self, other: ExclusionList) -> ExclusionList:
        """What either list protects: a project adds its own protected guests, nodes or storages to the run's."""
        sources = [source for source in (self.source, other.source) if source]
        return ExclusionList(
            vmids=self.vmids | other.vmids, vmid_ranges=tuple(sorted(set(self.vmid_ranges + other.vmid_ranges))),
            names=tuple(dict.fromkeys(self.names + other.names)), tags=self.tags | other.tags,
            pools=self.pools | other.pools, nodes=self.nodes | other.nodes, storages=self.storages | other.storages,
            source=" + ".join(sources) or None)

    def is_empty(self) -> bool:
        return not (self.vmids or self.vmid_ranges or self.names or self.tags or self.pools or self.nodes
                    or self.storages)

    def judges_guest_facts(self) -> bool:
        """True when a guest's name, tags, pool or node can make it protected: then those facts must be read."""
        return bool(self.names or self.tags or self.pools or self.nodes)

    def protects(self, vmid: int | None = None, name: str | None = None, node: str | None = None,
                 storage: str | None = None, tags: Iterable[str] = (), pool: str | None = None) -> bool:
        """True if ANY given fact is protected."""
        return self.why(vmid, name, node, storage, tags, pool) is not None

    def why(self, vmid: int | None = None, name: str | None = None, node: str | None = None,
            storage: str | None = None, tags: Iterable[str] = (), pool: str | None = None) -> str | None:
        """A short reason for the first matching rule (in file order: vmids, names, tags, pools, nodes,
        storages); None if nothing matches."""
        if vmid is not None:
            if vmid in self.vmids:
                return f"vmid {vmid} is protected"
            for start, end in self.vmid_ranges:
                if start <= vmid <= end:
                    return f"vmid {vmid} is in protected range {start}-{end}"
        if name is not None:
            for pattern in self.names:
                if fnmatchcase(name, pattern):
                    return f"name {name!r} matches protected pattern {pattern!r}"
        # A bare string would be iterated character by character; take it as one tag.
        for tag in (tags,) if isinstance(tags, str) else tags:
            if tag.lower() in self.tags:
                return f"tag {tag!r} is protected"
        if pool is not None and pool in self.pools:
            return f"pool {pool!r} is protected"
        if node is not None and node in self.nodes:
            return f"node {node!r} is protected"
        if storage is not None and storage in self.storages:
            return f"storage {storage!r} is protected"
        return None

    def protects_guest(self, guest: GuestFacts) -> bool:
        return self.why_guest(guest) is not None

    def why_guest(self, guest: GuestFacts) -> str | None:
        return self.why(guest.vmid, guest.name, guest.node, tags=guest.tags, pool=guest.pool)

    def resolve(self, guests: Iterable[GuestFacts]) -> frozenset[int]:
        """The vmids of the given (inventory) guests this list protects, by any rule."""
        return frozenset(guest.vmid for guest in guests if self.protects_guest(guest))

    def clash(self, temp_range: tuple[int, int]) -> str | None:
        """What of the temporary range ``temp_range`` this list protects by vmid, or None: two settings that
        contradict each other (no temporary guest could be made there), a usage error."""
        first, last = temp_range
        inside = sorted(vmid for vmid in self.vmids if first <= vmid <= last)
        if inside:
            return f"protects vmid {inside[0]}, inside the temporary range {first}-{last}"
        for start, end in self.vmid_ranges:
            if start <= last and first <= end:
                return f"protects vmids {start}-{end}, which overlap the temporary range {first}-{last}"
        return None

    def summary(self) -> str:
        """One line for a pytest report header; rules with no entries are left out."""
        counts = [
            _plural(len(self.vmids), "vmid"), _plural(len(self.vmid_ranges), "range"),
            _plural(len(self.names), "name pattern"), _plural(len(self.tags), "tag"),
            _plural(len(self.pools), "pool"), _plural(len(self.nodes), "node"),
            _plural(len(self.storages), "storage"),
        ]
        text = "exclusions: " + (", ".join(c for c in counts if not c.startswith("0 ")) or "none")
        return text if self.source is None else f"{text} (from {self.source})"
