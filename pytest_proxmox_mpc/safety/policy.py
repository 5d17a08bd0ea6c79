"""What may leave the process: a request is described, the policy decides, the guard enforces.

One policy object serves every client (and, later, the proxy). Rules, in order:

1. GET is always allowed; so is the login (POST /access/ticket). Every other method is a write.
2. Phases 1 and 2 refuse every write.
3. A write the policy cannot classify is refused (fail closed): no API path, dot segments, a body
   it cannot read, no schema, or a path or method the PVE schema does not have.
4. The exclusion list wins over everything: a write that names a protected guest, node, storage,
   pool or tag, or is addressed to a guest whose current name, tags or pool are protected, is refused.
5. Phase 3 allows creating a guest inside the temporary VMID range, and any write addressed to a
   guest in the run's ledger, except the workflow operations phase 4 adds: snapshots, clone (from a
   template or a ledger guest into the temporary range), migrate, disk moves, template conversion
   and vzdump of ledger guests. Everything else is refused.
6. Network isolation (phases 3-4, ``nics.NetworkRule``): NICs only on ``--pve-temp-network``; a clone or restore
   starts only once its NICs were read and pass.

Nothing here imports pytest or requests.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

from ..errors import ExclusionViolation, PhaseViolation, ReadOnlyViolation, SafetyViolation
from ..model.apischema import ApiSchema, PathMatch
from ..model.inventory import GuestFacts, split_tags
from ..model.vmids import DEFAULT_TEMP_RANGE
from .exclusions import ExclusionList
from .nics import NetworkRule

API_PREFIXES = ("/api2/json", "/api2/extjs")
LOGIN_PATH = "/access/ticket"
WRITE_METHODS = ("POST", "PUT", "DELETE")
GUEST_PATH = re.compile(r"^/nodes/\{node\}/(qemu|lxc)/\{vmid\}(?:/([^/]+))?")
CREATE_PATHS = ("/nodes/{node}/qemu", "/nodes/{node}/lxc")
PHASE4_GUEST_OPS = frozenset({"snapshot", "clone", "migrate", "move_disk", "move_volume", "template"})
LEAVES_CLUSTER_OPS = frozenset({"remote_migrate", "mtunnel", "mtunnelwebsocket"})
VMID_PARAMS = ("vmid", "newid")
NODE_PARAMS = ("target", "target-node", "targetnode")
STORAGE_PARAMS = ("storage", "target-storage", "targetstorage", "vmstatestorage", "archive")
NAME_PARAMS = ("name", "hostname")
DISK_PARAM = re.compile(r"^(?:ide|sata|scsi|virtio|efidisk|tpmstate|unused|mp)\d+$|^rootfs$")


@dataclass(frozen=True)
class ApiRequest:
    """One API request: method, path below ``/api2/json`` (None if the URL is no API path) and parameters.

    ``opaque_body`` is True when the body could not be read as form fields (an upload, a stream).
    """

    method: str
    path: str | None
    params: Mapping[str, str] = field(default_factory=dict)
    opaque_body: bool = False

    @property
    def shown_path(self) -> str:
        return self.path if self.path is not None else "<not an API path>"

    @classmethod
    def from_http(cls, method: str, url: str, body: bytes | str | object | None = None) -> ApiRequest:
        """Describe an HTTP request: the query string and a form-encoded body become ``params``."""
        parts = urlsplit(url)
        # Decoded, because the server decodes it: the policy must judge the path the server acts on.
        full = unquote(parts.path)
        path: str | None = None
        for prefix in API_PREFIXES:
            if full == prefix or full.startswith(prefix + "/"):
                path = full[len(prefix):] or "/"
                break
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        opaque = False
        if isinstance(body, (bytes, str)):
            try:
                text = body.decode("utf-8") if isinstance(body, bytes) else body
                if text:
                    params.update(parse_qsl(text, keep_blank_values=True, strict_parsing=True))
            except (UnicodeDecodeError, ValueError):
                opaque = True
        elif body is not None:  # a stream or multipart encoder: nothing we can read without consuming it
            opaque = True
        return cls(method=method.upper(), path=path, params=params, opaque_body=opaque)


@dataclass(frozen=True)
class Decision:
    """The policy's answer: allowed or not, the rule that decided, and why."""

    allowed: bool
    rule: str
    reason: str
    violation: type[SafetyViolation] = SafetyViolation
    creates: int | None = None  # the vmid an allowed create or clone makes: it joins the ledger on success

    def raise_if_refused(self, request: ApiRequest) -> None:
        """Raise this decision's violation when the request is refused."""
        if not self.allowed:
            raise self.violation(request.method, request.shown_path, self.rule, self.reason)


class Policy(Protocol):
    """Anything that decides, for one request, whether it may be sent."""

    def decide(self, request: ApiRequest) -> Decision: ...


@dataclass(frozen=True)
class GuestState:
    """A guest as it is now on the cluster: the facts exclusions match, and whether it is a template."""

    facts: GuestFacts
    template: bool = False


# Looks a guest up on the cluster at write time (None: no such guest). May raise: the write is then refused.
GuestLookup = Callable[[int], "GuestState | None"]


@dataclass
class PhasePolicy:
    """The rules above for one phase. ``ledger`` holds the vmids this run created."""

    phase: int
    schema: ApiSchema | None = None
    exclusions: ExclusionList = field(default_factory=ExclusionList.empty)
    ledger: Container[int] = frozenset()
    temp_range: tuple[int, int] = DEFAULT_TEMP_RANGE
    protected_vmids: frozenset[int] = frozenset()  # resolved from names, tags and pools at session start
    lookup: GuestLookup | None = None
    label: str = ""  # rule prefix; defaults to phase<N>
    phase_violation: type[PhaseViolation] = PhaseViolation
    network: NetworkRule = field(default_factory=NetworkRule)  # rule 6: the isolated network of temporary guests

    def _refuse(self, rule: str, reason: str) -> Decision:
        return Decision(False, f"{self.label or f'phase{self.phase}'}:{rule}", reason, self.phase_violation)

    def _allow(self, rule: str, reason: str, creates: int | None = None) -> Decision:
        return Decision(True, f"{self.label or f'phase{self.phase}'}:{rule}", reason, creates=creates)

    def decide(self, request: ApiRequest) -> Decision:
        method, path = request.method, request.path
        if method == "GET":
            return self._allow("get", "GET requests only read")
        if method == "POST" and path == LOGIN_PATH:
            return self._allow("login", "the login creates a ticket and changes nothing")
        if method not in WRITE_METHODS:
            return self._refuse("unknown-method", f"{method} is not a PVE API method")
        if self.phase < 3:
            who = "a read-only client" if self.label == "read-only" else f"phase {self.phase}"
            return self._refuse("no-writes", f"{who} sends only GET requests (and the login)")
        if path is None or any(seg in (".", "..") for seg in path.split("/")) or "//" in path:
            return self._refuse("unclassifiable-path", "the path is not a plain API path")
        if request.opaque_body:
            return self._refuse("unreadable-body", "the body is not form fields the policy can check")
        if self.schema is None:
            return self._refuse("no-schema", "no PVE API schema is available to classify writes "
                                              "(see --pve-api-schema)")
        match = self.schema.match(path)
        if match is None or method not in match.methods:
            return self._refuse("not-in-schema", f"the PVE schema has no {method} {path}")
        # One lookup per guest per decision: exclusions and the clone rule may both ask about the same guest.
        lookup = _memoised(self.lookup)
        protected = self._exclusion(request, match, lookup)
        if protected:
            return Decision(False, "exclusion:" + protected[0], protected[1], ExclusionViolation)
        return self._classify(request, match, lookup)

    # -- exclusions ------------------------------------------------------------------------------

    def _exclusion(self, request: ApiRequest, match: PathMatch, lookup: GuestLookup | None,
                   ) -> tuple[str, str] | None:
        """(rule, reason) when the request touches anything protected."""
        excl, params, variables = self.exclusions, request.params, match.variables
        for vmid in _vmids(variables, params):
            why = excl.why(vmid=vmid)
            if why or vmid in self.protected_vmids:
                return "vmid", why or f"vmid {vmid} was protected when the session started"
        for node in [variables.get("node"), *(params.get(p) for p in NODE_PARAMS)]:
            why = excl.why(node=node) if node else None
            if why:
                return "node", why
        for storage in _storages(variables, params):
            why = excl.why(storage=storage)
            if why:
                return "storage", why
        tags = split_tags(params.get("tags"))
        pool = params.get("pool")
        for name in [None, *(params[p] for p in NAME_PARAMS if p in params)]:
            why = excl.why(name=name, tags=tags, pool=pool)
            if why:
                return "guest", why
        if "vmid" in variables and lookup is not None and excl.judges_guest_facts():
            try:
                state = lookup(int(variables["vmid"]))
            except Exception as exc:
                return "unverifiable", f"guest {variables['vmid']} could not be checked ({type(exc).__name__})"
            why = excl.why_guest(state.facts) if state is not None else None
            if why:
                return "guest", why
        return None

    # -- phase rules -----------------------------------------------------------------------------

    def _in_range(self, vmid: int) -> bool:
        return self.temp_range[0] <= vmid <= self.temp_range[1]

    def _classify(self, request: ApiRequest, match: PathMatch, lookup: GuestLookup | None) -> Decision:
        template, params = match.template, request.params
        low, high = self.temp_range
        if template in CREATE_PATHS and request.method == "POST":
            vmid = _int(params.get("vmid"))
            if vmid is None or not self._in_range(vmid):
                return self._refuse("create-outside-temporary-range",
                                    f"new guests must have a vmid in the temporary range {low}-{high}")
            refused = self.network.create(vmid, params)
            if refused:
                return self._refuse(*refused)
            return self._allow("create-temporary", f"creates guest {vmid} in the temporary range", creates=vmid)
        guest = GUEST_PATH.match(template)
        if guest:
            vmid = int(match.variables["vmid"])
            decision = self._guest_write(vmid, guest.group(2) or "", params, lookup)
            refused = self.network.after(vmid, template, params, decision.creates) if decision.allowed else None
            return self._refuse(*refused) if refused else decision
        if template == "/nodes/{node}/vzdump" and request.method == "POST":
            return self._backup(params)
        return self._refuse("not-temporary", "writes go only to temporary guests this run created")

    def _guest_write(self, vmid: int, op: str, params: Mapping[str, str], lookup: GuestLookup | None) -> Decision:
        if op in LEAVES_CLUSTER_OPS:
            return self._refuse("leaves-cluster", f"{op} moves a guest out of this cluster")
        if op in PHASE4_GUEST_OPS and self.phase < 4:
            return self._refuse("needs-phase4", f"{op} is a phase 4 workflow operation")
        if op == "clone":
            newid = _int(params.get("newid"))
            if newid is None or not self._in_range(newid):
                return self._refuse("clone-outside-temporary-range", "a clone's newid must be in the temporary range")
            if vmid in self.ledger or _is_template(vmid, lookup):
                return self._allow("clone-temporary", f"clones {vmid} into temporary guest {newid}", creates=newid)
            return self._refuse("clone-source", f"guest {vmid} is neither a template nor a temporary guest")
        if vmid not in self.ledger:
            return self._refuse("not-in-ledger", f"guest {vmid} was not created by this run")
        return self._allow("ledger-guest", f"guest {vmid} was created by this run")

    def _backup(self, params: Mapping[str, str]) -> Decision:
        if self.phase < 4:
            return self._refuse("needs-phase4", "vzdump is a phase 4 workflow operation")
        vmids = [_int(v) for v in re.split(r"[,; ]", params.get("vmid", "")) if v]
        if any(k in params for k in ("all", "pool", "exclude")) or not vmids:
            return self._refuse("backup-selection", "vzdump may only name temporary guests by vmid")
        if not all(v is not None and v in self.ledger for v in vmids):
            return self._refuse("not-in-ledger", "vzdump may only back up guests this run created")
        return self._allow("backup-ledger-guests", "backs up guests this run created")


def _memoised(lookup: GuestLookup | None) -> GuestLookup | None:
    if lookup is None:
        return None
    seen: dict[int, GuestState | None] = {}

    def once(vmid: int) -> GuestState | None:
        if vmid not in seen:
            seen[vmid] = lookup(vmid)
        return seen[vmid]
    return once


def _is_template(vmid: int, lookup: GuestLookup | None) -> bool:
    try:
        state = lookup(vmid) if lookup else None
    except Exception:  # cannot tell: not a template, and the clone is refused
        return False
    return bool(state and state.template)


def _int(text: str | None) -> int | None:
    return int(text) if text is not None and text.strip().isdigit() else None


def _vmids(variables: Mapping[str, str], params: Mapping[str, str]) -> Iterator[int]:
    for text in [variables.get("vmid"), *(params.get(p) for p in VMID_PARAMS)]:
        for part in re.split(r"[,; ]", text or ""):
            if part.strip().isdigit():
                yield int(part)


def _storages(variables: Mapping[str, str], params: Mapping[str, str]) -> Iterator[str]:
    """Every storage a write names; disk specs and mappings are split so no name hides inside a value."""
    if variables.get("storage"):
        yield variables["storage"]
    for key, value in params.items():
        if key in STORAGE_PARAMS or DISK_PARAM.match(key):
            yield from (token for token in re.split(r"[,:=;]", value) if token)


class ReadOnlyPolicy(PhasePolicy):
    """GET only, plus the login POST to /access/ticket: the phase-1 rules, raising ``ReadOnlyViolation``."""

    def __init__(self) -> None:
        super().__init__(phase=1, label="read-only", phase_violation=ReadOnlyViolation)
