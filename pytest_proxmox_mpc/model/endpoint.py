"""Where a cluster is and how to log in to it, for any target."""

from __future__ import annotations

from dataclasses import dataclass

from .secret import Secret


@dataclass(frozen=True)
class Endpoint:
    """Address, credentials and TLS verification of a PVE API. Secrets stay wrapped in ``Secret``."""

    host: str
    port: int
    user: str
    password: Secret | None = None
    token_name: str | None = None
    token_value: Secret | None = None
    verify: bool | str = True
    timeout: float = 30.0

    @property
    def netloc(self) -> str:
        """host:port, with an IPv6 address in brackets."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def login_id(self) -> str:
        """Who logs in: ``USER@REALM!TOKEN`` for an API token, else ``USER@REALM``."""
        return f"{self.user}!{self.token_name}" if self.token_name else self.user

    @property
    def base_url(self) -> str:
        """The API root, https://host:port/api2/json."""
        return f"https://{self.netloc}/api2/json"
