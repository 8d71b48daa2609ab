"""Key unwrapping and content decryption, through python-jose's key objects.

The token has already been split and checked by the decoder; this module only
turns an encrypted key into a content encryption key (CEK) and a ciphertext
into plaintext. python-jose does the cryptography. Two things are ours:

* in the CBC-HS modes the HMAC tag is verified here, in constant time, before
  python-jose decrypts and unpads; python-jose unpads first and compares the
  tag with ``!=``, which is a padding oracle (RFC 7518 section 5.2.2.2 puts
  the tag check first);
* a failed key unwrap is not reported at once: decryption goes on with a
  random CEK and fails at the tag, so that the two failures take the same
  path (RFC 7516 section 11.5).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import struct
from typing import Any

from jose.backends import AESKey as _AESKey

from ._algorithms import CEK_BYTES, GCM_CONTENT
from ._compact import CompactJWE
from ._errors import DecryptionFailed
from .keys import Key

__all__ = ["check_shape", "decrypt"]

# python-jose picks its AES key class at import time (cryptography backend);
# typed loosely because its stubs allow None for a missing backend.
AESKey: Any = _AESKey

_CBC_HASHES = {
    "A128CBC-HS256": hashlib.sha256,
    "A192CBC-HS384": hashlib.sha384,
    "A256CBC-HS512": hashlib.sha512,
}
_CBC_CIPHERS = {"A128CBC-HS256": "A128CBC", "A192CBC-HS384": "A192CBC", "A256CBC-HS512": "A256CBC"}
_GCM_IV_BYTES = 12
_GCM_TAG_BYTES = 16
_CBC_IV_BYTES = 16


def check_shape(parts: CompactJWE, alg: str, enc: str, key: Key) -> None:
    """Refuse IV, tag and encrypted key lengths the algorithms cannot produce."""
    if enc in GCM_CONTENT:
        # RFC 7518 section 5.3: a 96-bit IV and a 128-bit tag. python-jose
        # would accept other lengths, and a short tag is easier to forge.
        iv_ok = len(parts.iv) == _GCM_IV_BYTES
        tag_ok = len(parts.tag) == _GCM_TAG_BYTES
    else:
        iv_ok = len(parts.iv) == _CBC_IV_BYTES
        tag_ok = len(parts.tag) == CEK_BYTES[enc] // 2
    if not (iv_ok and tag_ok):
        raise DecryptionFailed("IV or tag has the wrong length")
    if len(parts.encrypted_key) != _encrypted_key_length(alg, enc, key):
        # RFC 7516 section 5.2 step 10: with dir the encrypted key is empty.
        raise DecryptionFailed("encrypted key has the wrong length")


def _encrypted_key_length(alg: str, enc: str, key: Key) -> int:
    if alg == "dir":
        return 0
    if key.kty == "RSA":
        return int((key.material.key_size + 7) // 8)
    # AES key wrap adds one 64-bit block (RFC 3394 section 2.2.1).
    return CEK_BYTES[enc] + 8


def decrypt(parts: CompactJWE, alg: str, enc: str, key: Key) -> bytes:
    """Return the plaintext, or raise ``DecryptionFailed``."""
    cek, cek_ok = _content_key(parts.encrypted_key, alg, enc, key)
    try:
        plaintext = _decrypt_content(cek, enc, parts)
    except DecryptionFailed:
        raise
    except Exception as exc:  # python-jose raises several types on bad input
        raise DecryptionFailed("content decryption failed") from exc
    if not cek_ok:
        raise DecryptionFailed("key unwrap failed")
    return plaintext


def _content_key(encrypted_key: bytes, alg: str, enc: str, key: Key) -> tuple[bytes, bool]:
    if alg == "dir":
        cek = bytes(key.material)
        return cek, len(cek) == CEK_BYTES[enc]
    try:
        cek = key.jose_key.unwrap_key(encrypted_key)
    except Exception:
        return secrets.token_bytes(CEK_BYTES[enc]), False
    if not isinstance(cek, bytes) or len(cek) != CEK_BYTES[enc]:
        return secrets.token_bytes(CEK_BYTES[enc]), False
    return cek, True


def _decrypt_content(cek: bytes, enc: str, parts: CompactJWE) -> bytes:
    if len(cek) != CEK_BYTES[enc]:
        cek = secrets.token_bytes(CEK_BYTES[enc])
    if enc in GCM_CONTENT:
        gcm: Any = AESKey(cek, enc)
        return bytes(gcm.decrypt(parts.ciphertext, parts.iv, parts.aad, parts.tag))
    half = len(cek) // 2
    _verify_cbc_tag(cek[:half], enc, parts)
    cbc: Any = AESKey(cek[half:], _CBC_CIPHERS[enc])
    return bytes(cbc.decrypt(parts.ciphertext, parts.iv))


def _verify_cbc_tag(mac_key: bytes, enc: str, parts: CompactJWE) -> None:
    # RFC 7518 section 5.2.2.1: AL is the AAD length in bits, 64-bit big endian.
    al = struct.pack(">Q", len(parts.aad) * 8)
    mac = hmac.new(mac_key, parts.aad + parts.iv + parts.ciphertext + al, _CBC_HASHES[enc])
    expected = mac.digest()[: len(mac_key)]
    if not hmac.compare_digest(expected, parts.tag):
        raise DecryptionFailed("authentication tag mismatch")
