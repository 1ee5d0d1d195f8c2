"""A self-signed certificate for the alert mail server's STARTTLS.

Cameras accept any certificate (none verifies it), so a generated one is enough: TLS here only
keeps the camera's mail password off the LAN in clear. Blocking file I/O and key generation:
run it in an executor.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
import ipaddress
import logging
import os
from pathlib import Path
import ssl
import warnings

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

_LOGGER = logging.getLogger(__name__)

CERT_FILE = "smtp-cert.pem"
KEY_FILE = "smtp-key.pem"
KEY_BITS = 2048  # RSA 2048: what old camera TLS stacks can all do (no ECDSA, no RSA 4096)
VALIDITY = timedelta(days=3650)


def load_or_create_tls_context(directory: Path, hostname: str) -> ssl.SSLContext:
    """A server context with the certificate in ``directory``, made (mode 0600) if missing.

    A pair that does not load (a half-written file, a foreign key) is replaced. The context
    accepts TLS 1.0 and legacy ciphers: a camera whose handshake fails just stops sending mail,
    and since cameras do not verify the certificate anyway, a stronger floor would protect
    nothing an attacker on the LAN could not get by impersonating the server.
    """
    cert_path = directory / CERT_FILE
    key_path = directory / KEY_FILE
    context = _server_context()
    if cert_path.exists() and key_path.exists():
        try:
            context.load_cert_chain(cert_path, key_path)
        except (ssl.SSLError, OSError) as err:
            _LOGGER.warning("Replacing the SMTP certificate in %s: %s", directory, err)
        else:
            return context
    directory.mkdir(parents=True, exist_ok=True)
    cert_pem, key_pem = _self_signed(hostname)
    _write_private(key_path, key_pem)
    _write_private(cert_path, cert_pem)
    context.load_cert_chain(cert_path, key_path)
    _LOGGER.info("Created a self-signed SMTP certificate for %s in %s", hostname, directory)
    return context


def _server_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with warnings.catch_warnings():
        # Python deprecates TLS 1.0/1.1 as a floor; old cameras still speak nothing newer.
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1
    # OpenSSL 3 allows TLS 1.0/1.1 (SHA-1 handshakes) only at security level 0.
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


def _self_signed(hostname: str) -> tuple[bytes, bytes]:
    """PEM certificate and key: RSA 2048, CN and SAN = hostname, ten years."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    san: x509.GeneralName
    try:
        san = x509.IPAddress(ipaddress.ip_address(hostname))
    except ValueError:
        san = x509.DNSName(hostname)
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))  # a camera clock a little behind
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName([san]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` with mode 0600 from the start (no window with 0644)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    tmp.replace(path)
