"""The safety proxy's own TLS: a self-signed certificate made per proxy, and the server context that uses it.

The certificate names the loopback address the proxy listens on (and ``localhost``), so a tool verifies it
with the certificate itself as its CA (``NODE_EXTRA_CA_CERTS``, ``REQUESTS_CA_BUNDLE``, ``curl --cacert``).
The key is written 0600 and lives only as long as the proxy's directory. Made with ``cryptography`` (a core
dependency); fakepve, which can make certificates too, stays an optional extra. Nothing here imports pytest.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Iterable
from pathlib import Path

from ..files.private import write_private

CERT_NAME = "pytest-proxmox-mpc-proxy"
VALID_DAYS = 30


def make_certificate(directory: Path, hosts: Iterable[str] = (), name: str = CERT_NAME) -> tuple[Path, Path]:
    """Write ``name.crt`` (the certificate, also its own CA) and ``name.key`` (0600) into ``directory``.

    The certificate is for ``localhost``, ``127.0.0.1``, ``::1`` and every address or name in ``hosts``.
    Returns (certificate file, key file).
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    alt_names: list[x509.GeneralName] = []
    for host in ("localhost", "127.0.0.1", "::1", *hosts):
        try:
            entry: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
        except ValueError:
            entry = x509.DNSName(host)
        if entry not in alt_names:
            alt_names.append(entry)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pytest-proxmox-mpc safety proxy")])
    now = datetime.datetime.now(datetime.timezone.utc)
    usage = x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                          encipher_only=False, decipher_only=False)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    certfile, keyfile = directory / f"{name}.crt", directory / f"{name}.key"
    certfile.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    write_private(keyfile, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()))
    return certfile, keyfile


def server_context(certfile: Path, keyfile: Path) -> ssl.SSLContext:
    """A TLS 1.2+ server context serving ``certfile``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(certfile), str(keyfile))
    return context
