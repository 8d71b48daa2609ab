"""Development keys and a self-signed TLS certificate, made on first run.

Everything goes to a git-ignored folder (``example_app/.dev`` unless
``EXAMPLE_DEV_DIR`` says otherwise). A file lock makes concurrent first
starts (two instances, or tests in parallel) agree on one set of keys. The
certificate, and its key, are made again when it has expired or is about to.
"""

from __future__ import annotations

import datetime
import fcntl
import ipaddress
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from jwe_middleware import Key, KeyRing, generate_key

DEFAULT_DIR = Path(__file__).resolve().parent / ".dev"
CERTIFICATE_VALIDITY = datetime.timedelta(days=365)
# Renewed this long before it expires, so a server started today does not
# begin serving an expired certificate tomorrow.
RENEWAL_MARGIN = datetime.timedelta(days=1)


@dataclass(frozen=True)
class DevMaterial:
    encryption_key: Key
    signing_key: Key
    cert_file: Path
    key_file: Path


def dev_dir() -> Path:
    return Path(os.environ.get("EXAMPLE_DEV_DIR", DEFAULT_DIR))


def ensure_dev_material(directory: Path | None = None) -> DevMaterial:
    """Load the development material, creating what is missing."""
    folder = directory or dev_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        encryption = _load_or_create(folder / "service.jwks.json", "RSA-OAEP-256", "service-enc-1")
        signing = _load_or_create(folder / "signing.jwks.json", "ES256", "login-sig-1")
        cert_file, key_file = folder / "tls-cert.pem", folder / "tls-key.pem"
        if not _certificate_usable(cert_file, key_file):
            write_self_signed(cert_file, key_file)
    return DevMaterial(encryption, signing, cert_file, key_file)


def _load_or_create(path: Path, alg: str, kid: str) -> Key:
    if path.exists():
        return next(iter(KeyRing.from_file(path)))
    key = generate_key(alg, kid=kid)
    write_private(path, json.dumps(KeyRing([key]).private_jwks(), indent=2).encode())
    return key


def _certificate_usable(cert_file: Path, key_file: Path) -> bool:
    if not key_file.exists():
        return False
    try:
        certificate = x509.load_pem_x509_certificate(cert_file.read_bytes())
    except (OSError, ValueError):
        return False
    return certificate.not_valid_after_utc > _utc_now() + RENEWAL_MARGIN


def write_private(path: Path, data: bytes) -> None:
    temporary = path.with_suffix(".tmp")
    # A leftover temporary file (from a crash) keeps its own mode through
    # O_TRUNC, maybe 0644, and the key would inherit it. A fresh file made
    # with O_EXCL cannot be that one, nor a symlink planted in its place.
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        # Exactly 0600 whatever the umask, set before any secret is written.
        os.fchmod(handle.fileno(), 0o600)
        handle.write(data)
    os.replace(temporary, path)


def write_self_signed(
    cert_file: Path, key_file: Path, *, now: datetime.datetime | None = None
) -> None:
    """Write a certificate valid for a year from ``now`` (default: the present)."""
    now = now or _utc_now()
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "jwe-middleware example")])
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + CERTIFICATE_VALIDITY)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private, hashes.SHA256())
    )
    key_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_private(key_file, key_pem)
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)
