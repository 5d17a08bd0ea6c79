"""What is secret: the one place that decides which parameter names and headers never reach a log or a report.

Redacting too much costs an audit line some detail; redacting too little leaks a credential into a file
that outlives the run. Where a name is ambiguous, it is treated as secret.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..model.secret import Secret

REDACTED = "***"

# Exact names (lower-case) of PVE API parameters and answer fields whose values are secrets.
SECRET_PARAM_NAMES: frozenset[str] = frozenset({
    "password",               # login, user create, LDAP bind, CIFS/PBS/ESXi storage, SMTP target, cluster join
    "new-password",           # password changes (older clients' name for the new password)
    "confirmation-password",  # PUT /access/password and TFA changes: the caller's own current password
    "cipassword",             # cloud-init default user's password
    "otp",                    # one-time code sent with the login (older API)
    "tfa-challenge",          # second login step: a signed half-ticket that completes into a full ticket
    "response",               # legacy POST /access/tfa: the second-factor answer
    "totp",                   # POST /access/tfa: the otpauth:// URI, which carries the TOTP shared secret
    "recovery",               # TFA recovery keys (in answers)
    "ticket",                 # PVEAuthCookie value, termproxy/vncproxy tickets: each is a login
    "vncticket",              # vncwebsocket and /access/vncticket
    "csrfpreventiontoken",    # pairs with the ticket; answers spell it CSRFPreventionToken
    "value",                  # token create answer (the API token's secret); the TOTP code of POST /access/tfa
    "key",                    # subscription key, custom certificate's private key (PEM), PowerDNS API key
    "secret",                 # webhook target secrets (headers with credentials), OpenID client secret
    "token",                  # gotify/InfluxDB 2/NetBox/phpIPAM tokens
    "token-value",            # proxmoxer-style token secret, spelled the PVE way
    "token_value",            # proxmoxer's keyword for the API token secret
    "tokensecret",
    "client-key",             # OpenID Connect realm: the client secret
    "private-key",
    "encryption-key",         # PBS storage: client-side encryption key (the master-pubkey beside it is public)
    "keyring",                # external Ceph RBD/CephFS storage: the cephx secret key
    "hmac-key",
    "eab-hmac-key",           # ACME external account binding (eab-kid beside it only names the key)
    "api-key",
    "apikey",
    "passphrase",
    "code",                   # OpenID login: the authorization code, exchangeable for a session
})
# Deliberately NOT secret: sshkeys and master-pubkey (public keys), fingerprint (a certificate's public hash),
# tokenid/userid/username (who, not how), smbios1 (ids, not credentials), eab-kid (names the key).

SECRET_HEADERS: frozenset[str] = frozenset({
    "authorization",        # PVEAPIToken=user@realm!id=<secret>
    "proxy-authorization",  # credentials for a proxy between the runner and the cluster
    "cookie",               # PVEAuthCookie=<ticket>
    "set-cookie",
    "csrfpreventiontoken",
})

# Any name containing one of these is secret, so names PVE adds later are covered too: "bindpassword",
# "spiceticket", "clientsecret", "access-token", "private_key_file", ...
_SECRET_PARTS = ("password", "passwd", "secret", "token", "ticket", "passphrase", "private")

# Names containing "token" that only name a token: the token's secret is elsewhere, and hiding its name would
# leave the audit trail unable to say which token acted.
_TOKEN_NAMES = frozenset({"tokenid", "token-id", "token_id", "tokenname", "token-name", "token_name"})

# Public keys end in "-key" too, so the "-key" suffix rule spares names that say "pub".
_KEY_SUFFIXES = ("-key", "_key")


# Names a project added (the pytest_proxmox_mpc_secret_names hook): a count per name, as several runs may
# share a process (pytester's inline runs) and each removes only what it added.
_added: dict[str, int] = {}


def add_secret_names(names: Iterable[str]) -> Callable[[], None]:
    """Treat ``names`` (any case, whole names) as secret too, until the returned function is called."""
    lowered = [name.strip().lower() for name in names if name.strip()]
    for name in lowered:
        _added[name] = _added.get(name, 0) + 1

    def remove() -> None:
        for name in lowered:
            _added[name] -= 1
            if not _added[name]:
                del _added[name]
    return remove


def is_secret_header(name: str) -> bool:
    """True for a header (any case) that carries a credential: the built-in ones and the names a project added."""
    lowered = name.lower()
    return lowered in SECRET_HEADERS or lowered in _added


def is_secret_name(name: str) -> bool:
    """True when values under ``name`` (any case) are secrets: exact names, secret parts, ``*-key`` names, and
    the names a project added (``add_secret_names``)."""
    lowered = name.lower()
    if lowered in SECRET_PARAM_NAMES or lowered in SECRET_HEADERS or lowered in _added:
        return True
    if lowered in _TOKEN_NAMES:
        return False
    if any(part in lowered for part in _SECRET_PARTS):
        return True
    return lowered.endswith(_KEY_SUFFIXES) and "pub" not in lowered


def _redact_value(value: Any) -> Any:
    # A Secret is hidden whatever it is called: it says so itself.
    if isinstance(value, Secret):
        return REDACTED
    if isinstance(value, Mapping):
        return redact_params(value)
    if isinstance(value, (list, tuple)):
        return [_redact_value(item) for item in value]
    return value


def redact_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """A copy with every secret-named value replaced by ``REDACTED`` (recursively into nested dicts/lists)."""
    return {
        key: REDACTED if is_secret_name(str(key)) else _redact_value(value)
        for key, value in params.items()
    }
