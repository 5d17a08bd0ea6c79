"""Pseudonyms for what identifies a cluster: node names, IP and MAC addresses, user names.

With ``--pve-anonymize`` every cassette is rewritten as it is saved. A pseudonym is a keyed hash of the
real value with the run id as key, so all cassettes of a run (all xdist workers included) agree, and
a replay, which only ever sees pseudonyms, asks for exactly what was recorded. Nothing here imports pytest.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

NODE_KEYS = ("node", "nodename", "target")
USER_KEYS = ("userid", "username", "user", "owner")
NODE_PATH = re.compile(r"/nodes/([^/?#]+)|UPID:([^:]+):")
USER_PATH = re.compile(r"/access/users/([^/?#]+)")
IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
MAC = re.compile(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}(?![0-9A-Fa-f:])")
KEEP_IPS = ("127.0.0.1", "0.0.0.0", "255.255.255.255")


class Anonymizer:
    """Learns the names a cassette holds and replaces them, and every IP and MAC address, by pseudonyms."""

    def __init__(self, salt: str) -> None:
        self.salt = salt
        self.nodes: set[str] = set()
        self.users: set[str] = set()

    def _digest(self, value: str) -> str:
        return hashlib.sha256(f"{self.salt}\0{value}".encode()).hexdigest()

    def node(self, name: str) -> str:
        return "node-" + self._digest("node:" + name)[:6]

    def user(self, userid: str) -> str:
        name, at, realm = userid.partition("@")
        return "user-" + self._digest("user:" + name)[:6] + at + realm

    def ip(self, address: str) -> str:
        if address in KEEP_IPS:
            return address
        digest = bytes.fromhex(self._digest("ip:" + address)[:6])
        return "10." + ".".join(str(b) for b in digest)

    def mac(self, address: str) -> str:
        digest = self._digest("mac:" + address.lower())[:8]
        return "02:00:" + ":".join(digest[i:i + 2] for i in range(0, 8, 2)).upper()

    def learn(self, texts: Iterable[str]) -> None:
        """Collect node and user names from paths and from JSON answers."""
        for text in texts:
            self.nodes.update(unquote(a or b) for a, b in NODE_PATH.findall(text))
            self.users.update(unquote(m) for m in USER_PATH.findall(text))
            try:
                self._walk(json.loads(text))
            except (ValueError, TypeError):
                continue

    def _walk(self, value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, str) and key in NODE_KEYS:
                    self.nodes.add(item)
                elif isinstance(item, str) and key in USER_KEYS and "@" in item:
                    self.users.add(item.split("!")[0])
                else:
                    self._walk(item)
            if value.get("type") == "node" and isinstance(value.get("name"), str):
                self.nodes.add(value["name"])
        elif isinstance(value, list):
            for item in value:
                self._walk(item)

    def rewrite(self, text: str) -> str:
        """``text`` with every learned name and every IP and MAC address replaced by its pseudonym."""
        text = MAC.sub(lambda m: self.mac(m.group(0)), text)
        text = IPV4.sub(lambda m: self.ip(m.group(0)), text)
        for user in sorted(self.users, key=len, reverse=True):
            text = text.replace(user, self.user(user)).replace(user.replace("@", "%40"),
                                                                   self.user(user).replace("@", "%40"))
        for node in sorted(self.nodes, key=len, reverse=True):
            text = re.sub(rf"(?<![A-Za-z0-9_-]){re.escape(node)}(?![A-Za-z0-9_-])", self.node(node), text)
        return text
