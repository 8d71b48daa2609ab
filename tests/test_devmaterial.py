"""The example app's development keys and certificate (example_app/devmaterial.py)."""

from __future__ import annotations

import datetime
import stat
from pathlib import Path

import pytest
from cryptography import x509

devmaterial = pytest.importorskip("example_app.devmaterial")

A_YEAR = datetime.timedelta(days=365)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def not_after(cert_file: Path) -> datetime.datetime:
    certificate = x509.load_pem_x509_certificate(cert_file.read_bytes())
    return certificate.not_valid_after_utc


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def test_write_private_stale_open_temporary_file_still_0600(tmp_path: Path) -> None:
    path = tmp_path / "secret.json"
    stale = path.with_suffix(".tmp")
    stale.write_bytes(b"left over from a crash")
    stale.chmod(0o644)

    devmaterial.write_private(path, b"secret")

    assert path.read_bytes() == b"secret"
    assert mode_of(path) == 0o600
    assert not stale.exists()


def test_write_private_existing_open_file_replaced_with_0600(tmp_path: Path) -> None:
    path = tmp_path / "secret.json"
    path.write_bytes(b"old")
    path.chmod(0o644)

    devmaterial.write_private(path, b"new")

    assert path.read_bytes() == b"new"
    assert mode_of(path) == 0o600


def test_write_self_signed_key_0600_and_valid_a_year(tmp_path: Path) -> None:
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"

    devmaterial.write_self_signed(cert_file, key_file)

    assert mode_of(key_file) == 0o600
    assert now() + A_YEAR - datetime.timedelta(minutes=1) < not_after(cert_file)


def test_ensure_dev_material_fresh_folder_creates_everything(tmp_path: Path) -> None:
    material = devmaterial.ensure_dev_material(tmp_path)

    assert material.cert_file.exists() and mode_of(material.key_file) == 0o600
    assert material.encryption_key.is_private and material.signing_key.is_private


def test_ensure_dev_material_valid_certificate_kept(tmp_path: Path) -> None:
    first = devmaterial.ensure_dev_material(tmp_path)
    certificate, key = first.cert_file.read_bytes(), first.key_file.read_bytes()

    second = devmaterial.ensure_dev_material(tmp_path)

    assert second.cert_file.read_bytes() == certificate
    assert second.key_file.read_bytes() == key
    assert second.encryption_key.kid == first.encryption_key.kid


@pytest.mark.parametrize(
    "issued_ago",
    [2 * A_YEAR, A_YEAR + datetime.timedelta(minutes=1), A_YEAR - datetime.timedelta(hours=12)],
    ids=["expired-long-ago", "just-expired", "expires-within-a-day"],
)
def test_ensure_dev_material_old_certificate_regenerated(
    tmp_path: Path, issued_ago: datetime.timedelta
) -> None:
    cert_file, key_file = tmp_path / "tls-cert.pem", tmp_path / "tls-key.pem"
    devmaterial.write_self_signed(cert_file, key_file, now=now() - issued_ago)
    old_key = key_file.read_bytes()

    material = devmaterial.ensure_dev_material(tmp_path)

    assert not_after(material.cert_file) > now() + A_YEAR - datetime.timedelta(minutes=1)
    assert material.key_file.read_bytes() != old_key
    assert mode_of(material.key_file) == 0o600


def test_ensure_dev_material_unreadable_certificate_regenerated(tmp_path: Path) -> None:
    devmaterial.ensure_dev_material(tmp_path)
    cert_file = tmp_path / "tls-cert.pem"
    cert_file.write_text("not a certificate")

    material = devmaterial.ensure_dev_material(tmp_path)

    assert not_after(material.cert_file) > now()
