"""Finding the bearer token in a request (RFC 6750 section 2).

A request carries at most one token, by one method (RFC 6750 section 2: a
client must not use more than one). Two tokens, or an ``Authorization``
header that says Bearer but holds no well-formed token, is a malformed
request (400 ``invalid_request``, section 3.1), not an invalid token.
"""

from __future__ import annotations

import string
from collections.abc import Iterable

from ._errors import AmbiguousCredentials

__all__ = ["TokenExtractor"]

# RFC 6750 section 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" /
# "~" / "+" / "/" ) *"=". A compact JWE needs only the base64url letters and
# dots, but anything else in the grammar is left for the decoder to refuse.
_B64TOKEN_CHARACTERS = (string.ascii_letters + string.digits + "-._~+/").encode("ascii")
_BEARER = b"bearer"


class TokenExtractor:
    """Read the token from ``Authorization: Bearer`` and, if named, a cookie."""

    __slots__ = ("_cookie",)

    def __init__(self, *, cookie_name: str | None = None) -> None:
        if cookie_name is not None and (not cookie_name or not cookie_name.isascii()):
            raise ValueError("cookie_name must be a non-empty ASCII string")
        self._cookie = None if cookie_name is None else cookie_name.encode("ascii")

    def extract(self, headers: Iterable[tuple[bytes, bytes]]) -> bytes | None:
        """Return the token, ``None`` when there is none, or raise."""
        found, malformed = self._collect(headers)
        if malformed:
            raise AmbiguousCredentials("malformed bearer credentials")
        if len(found) > 1:
            raise AmbiguousCredentials("more than one token in the request")
        return found[0] if found else None

    def candidates(self, headers: Iterable[tuple[bytes, bytes]]) -> list[bytes]:
        """Every non-empty credential the request offers, well-formed or not."""
        found, _ = self._collect(headers)
        return [token for token in found if token]

    def _collect(self, headers: Iterable[tuple[bytes, bytes]]) -> tuple[list[bytes], bool]:
        found: list[bytes] = []
        malformed = False
        for name, value in headers:
            if name == b"authorization":
                token = _bearer_credentials(value)
                if token is not None:
                    found.append(token)
                    malformed = malformed or not _is_b64token(token)
            elif name == b"cookie" and self._cookie is not None:
                found.extend(_cookie_values(value, self._cookie))
        return found, malformed


def _bearer_credentials(value: bytes) -> bytes | None:
    value = value.strip(b" \t")
    scheme, _, credentials = value.partition(b" ")
    if scheme[:7].lower() == b"bearer\t":
        # RFC 7235 section 2.1 puts spaces, not tabs, after the scheme. This is
        # still an attempt at a bearer token (exposed, if sent in clear), and
        # what follows the tab is handed on as it is, to be found malformed.
        return value[6:]
    if scheme.lower() != _BEARER:
        # Another scheme (Basic, say) is not ours to judge: no bearer token.
        return None
    return credentials.lstrip(b" ")


def _is_b64token(token: bytes) -> bool:
    # Deleting every allowed character leaves nothing of a well-formed body:
    # one C pass over the token, several times faster than a regex match.
    body = token.rstrip(b"=")
    return bool(body) and not body.translate(None, _B64TOKEN_CHARACTERS)


def _cookie_values(header: bytes, name: bytes) -> list[bytes]:
    values = []
    for pair in header.split(b";"):
        key, sep, value = pair.strip(b" \t").partition(b"=")
        if sep and key == name:
            values.append(value.strip(b'"'))
    return [value for value in values if value]
