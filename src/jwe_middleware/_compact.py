"""Strict parsing of compact JOSE serializations.

Everything here runs before any key is touched, on bytes an attacker chose.
The rules are narrower than what many JOSE libraries accept, on purpose:

* base64url only, no padding, no whitespace, and canonical: the unused low
  bits of the last character must be zero (RFC 7515 section 2 and RFC 4648
  section 3.5), so one token has exactly one spelling;
* an exact number of segments (five for JWE, three for JWS);
* JSON texts that are UTF-8 without a byte order mark (RFC 8259 section 8.1),
  with no duplicate member names (RFC 7516 section 5.2 step 4), no NaN or
  Infinity, and bounded nesting.

Each segment is decoded once; the decoded bytes are handed on, never decoded
again further down the path.
"""

from __future__ import annotations

import binascii
import json
from typing import Any, NamedTuple

from ._errors import MalformedToken

__all__ = [
    "CompactJWE",
    "CompactJWS",
    "b64url_decode",
    "parse_json_object",
    "split_jwe",
    "split_jws",
]

_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_VALUE = {char: index for index, char in enumerate(_ALPHABET)}

# For a segment whose length is 2 or 3 modulo 4, the last character carries 4
# or 2 bits that belong to no byte. They must be zero, or two spellings would
# decode to the same bytes (a malleability the tag does not see in the IV,
# encrypted key and tag segments). Indexed by the length modulo 4.
_SPARE_BITS_MASK = (0, 0, 0x0F, 0x03)

_MAX_DEPTH = 8


class CompactJWE(NamedTuple):
    """The five decoded parts of a compact JWE, plus the AAD it authenticates."""

    header: dict[str, Any]
    aad: bytes
    encrypted_key: bytes
    iv: bytes
    ciphertext: bytes
    tag: bytes


class CompactJWS(NamedTuple):
    """The three decoded parts of a compact JWS, plus its signing input."""

    header: dict[str, Any]
    signing_input: bytes
    payload: bytes
    signature: bytes


def b64url_decode(segment: bytes) -> bytes:
    """Decode one base64url segment, refusing anything but the canonical form."""
    remainder = len(segment) % 4
    if remainder == 1 or segment.translate(None, _ALPHABET):
        raise MalformedToken("segment is not base64url")
    if remainder and _VALUE[segment[-1]] & _SPARE_BITS_MASK[remainder]:
        raise MalformedToken("segment is not canonical base64url")
    # The alphabet and length are checked above, so the standard decoder
    # sees nothing it could skip over or repair.
    return binascii.a2b_base64(segment.translate(_URL_TO_STANDARD) + _PADDING[remainder])


_URL_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_PADDING = (b"", b"", b"==", b"=")


def split_jwe(token: bytes) -> CompactJWE:
    """Split and decode a compact JWE (RFC 7516 section 7.1)."""
    parts = token.split(b".")
    if len(parts) != 5:
        raise MalformedToken("a compact JWE has five segments")
    header_segment = parts[0]
    header = parse_json_object(b64url_decode(header_segment))
    encrypted_key, iv, ciphertext, tag = map(b64url_decode, parts[1:])
    return CompactJWE(header, header_segment, encrypted_key, iv, ciphertext, tag)


def split_jws(token: bytes) -> CompactJWS:
    """Split and decode a compact JWS (RFC 7515 section 7.1)."""
    parts = token.split(b".")
    if len(parts) != 3:
        raise MalformedToken("a compact JWS has three segments")
    header_segment, payload_segment, signature_segment = parts
    header = parse_json_object(b64url_decode(header_segment))
    signing_input = header_segment + b"." + payload_segment
    payload = b64url_decode(payload_segment)
    return CompactJWS(header, signing_input, payload, b64url_decode(signature_segment))


def parse_json_object(data: bytes) -> dict[str, Any]:
    """Parse a JSON object from UTF-8 bytes, strictly."""
    # json.loads on bytes would sniff UTF-16 and UTF-32; decoding first pins
    # the text to UTF-8 as RFC 7515 section 5.2 and RFC 8259 section 8.1 ask.
    if data.startswith(b"\xef\xbb\xbf"):
        raise MalformedToken("JSON text starts with a byte order mark")
    try:
        value = _STRICT_JSON.decode(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise MalformedToken("not a valid JSON text") from exc
    if not isinstance(value, dict):
        raise MalformedToken("JSON text is not an object")
    if _depth_exceeds(value, _MAX_DEPTH):
        raise MalformedToken("JSON text is nested too deeply")
    return value


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member name")
    return result


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# Built once: json.loads with hooks would build a new decoder, and its
# scanner, on every call. A decoder holds no state between calls.
_STRICT_JSON = json.JSONDecoder(object_pairs_hook=_unique_members, parse_constant=_refuse_constant)
_CONTAINERS = (dict, list)


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Whether containers nest deeper than ``limit``, walked level by level."""
    level = [value]
    for _ in range(limit):
        level = [
            child
            for item in level
            for child in (item.values() if isinstance(item, dict) else item)
            if isinstance(child, _CONTAINERS)
        ]
        if not level:
            return False
    return True
