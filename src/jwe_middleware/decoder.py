"""``TokenDecoder``: a compact JWE in, validated claims out.

Pure and synchronous: no ASGI, no I/O, usable on its own. The order of the
checks is the point. Cheap, key-free checks run first, on untrusted bytes:
size, segments, base64url, header JSON, refused header members, algorithm
allowlists. Only then is a key chosen, by ``kid`` and bound ``alg``, and only
then does python-jose decrypt. A nested JWT (RFC 7519 section 11.2) has its
inner signature verified before any claim is looked at.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

from . import _content
from ._algorithms import (
    DEFAULT_CONTENT_ALGORITHMS,
    DEFAULT_KEY_ALGORITHMS,
    DEFAULT_SIGNATURE_ALGORITHMS,
    AlgorithmPolicy,
)
from ._compact import CompactJWE, parse_json_object, split_jwe, split_jws
from ._errors import (
    DecryptionFailed,
    DisallowedAlgorithm,
    InvalidClaims,
    InvalidSignature,
    MalformedToken,
    SignatureRequired,
    TokenError,
    TokenTooLarge,
    TypeMismatch,
    UnknownKey,
    UnsupportedHeader,
)
from ._keyset import CheckedKeys
from .claims import DEFAULT_LEEWAY, ClaimRules, Claims, expires_at
from .keys import Key, KeyRing, KeySource

__all__ = ["DEFAULT_MAX_TOKEN_BYTES", "DecodedToken", "TokenDecoder"]

DEFAULT_MAX_TOKEN_BYTES = 8 * 1024

_STRING_MEMBERS = ("alg", "enc", "kid", "cty", "typ")
# Members that ask the recipient to fetch or trust a key named by the token
# itself. The recipient chooses its keys; these are refused outright
# (RFC 8725 section 3.10 on key references in headers).
_KEY_REFERENCES = frozenset({"jku", "x5u", "jwk", "x5c"})
# Header names registered by RFC 7515 and RFC 7516, which "crit" may not list
# (RFC 7515 section 4.1.11).
_REGISTERED = frozenset(
    {"alg", "enc", "zip", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty",
     "crit"}
)


class DecodedToken(NamedTuple):
    """A decoded token: its claims and which keys opened it."""

    claims: Claims
    decryption_kid: str
    signing_kid: str | None


class TokenDecoder:
    """Decrypt, verify and validate compact JWE tokens.

    ``decryption_keys`` open the outer JWE; ``verification_keys`` verify the
    inner JWS of a nested token. With public-key key management (RSA-OAEP*)
    anyone holding the public key can mint a token, so an inner signature is
    then required unless ``allow_unsigned`` waives it; when verification keys
    are configured, every token must be signed unless ``allow_unsigned``.
    """

    def __init__(
        self,
        *,
        decryption_keys: KeySource,
        verification_keys: KeySource | None = None,
        issuer: str | None = None,
        audience: str | Iterable[str] | None = None,
        key_algorithms: Iterable[str] = DEFAULT_KEY_ALGORITHMS,
        content_algorithms: Iterable[str] = DEFAULT_CONTENT_ALGORITHMS,
        signature_algorithms: Iterable[str] = DEFAULT_SIGNATURE_ALGORITHMS,
        leeway: float = DEFAULT_LEEWAY,
        max_age: float | None = None,
        required_claims: Iterable[str] = ("exp",),
        token_type: str | None = None,
        critical_headers: Iterable[str] = (),
        max_token_bytes: int = DEFAULT_MAX_TOKEN_BYTES,
        allow_unsigned: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._policy = AlgorithmPolicy.build(
            key_algorithms, content_algorithms, signature_algorithms
        )
        self._rules = ClaimRules.build(
            issuer=issuer,
            audience=audience,
            leeway=leeway,
            max_age=max_age,
            required_claims=required_claims,
        )
        self._keys = CheckedKeys(
            decryption_keys, verification_keys, self._policy, allow_unsigned=bool(allow_unsigned)
        )
        self._allow_unsigned = bool(allow_unsigned)
        # Normalised as the header's typ is in _check_type (RFC 7515 section 4.1.9).
        self._token_type = token_type and token_type.lower().removeprefix("application/")
        self._understood_crit = frozenset(critical_headers) - _REGISTERED
        if not isinstance(max_token_bytes, int) or max_token_bytes < 64:
            raise ValueError("max_token_bytes must be an integer of at least 64")
        self._max_bytes = max_token_bytes
        self._clock = clock

    def __repr__(self) -> str:
        return f"TokenDecoder({self._keys.describe()})"

    @property
    def decryption_keys(self) -> KeyRing:
        return self._keys.current()[0]

    @property
    def verification_keys(self) -> KeyRing | None:
        return self._keys.current()[1]

    def key_snapshot(self) -> tuple[KeyRing, KeyRing | None]:
        """The decryption and verification rings in force now, read together."""
        return self._keys.current()

    @property
    def key_sources(self) -> tuple[KeySource, ...]:
        """The sources to refresh when a token names an unknown kid."""
        return self._keys.sources

    @property
    def clock(self) -> Callable[[], float]:
        return self._clock

    @property
    def rules(self) -> ClaimRules:
        return self._rules

    def accepted_until(self, claims: Mapping[str, Any]) -> float | None:
        """The last moment this decoder accepts a token with these claims.

        That is ``exp`` plus the leeway, or ``None`` without a numeric ``exp``.
        A revocation must last this long, not merely until ``exp``: within the
        leeway an expired token is still accepted.
        """
        expires = expires_at(claims)
        return None if expires is None else expires + self._rules.leeway

    def is_retired_kid(self, kid: str | None) -> bool:
        """Whether ``kid`` named a key that has since left its ring."""
        return self._keys.is_retired(kid)

    def decode(self, token: str | bytes) -> Claims:
        """Return the validated claims, or raise a ``TokenError``."""
        return self.decode_token(token).claims

    def decode_token(self, token: str | bytes) -> DecodedToken:
        """Return the claims with the kids that opened the token."""
        raw = self._bounded_bytes(token)
        parts = split_jwe(raw)
        header = parts.header
        self._check_header(header)
        alg, enc = self._allowed_encryption(header)
        self._check_type(header)

        decryption_keys, verification_keys = self._keys.current()
        key, plaintext = self._decrypt(decryption_keys, parts, alg, enc)
        signing_kid: str | None = None
        if _is_nested(header):
            payload, signing_kid = self._verify_inner(verification_keys, plaintext)
        else:
            payload = self._unsigned_payload(verification_keys, plaintext, key)

        claims = _claims_object(payload)
        self._rules.validate(claims, self._clock())
        return DecodedToken(Claims(claims), key.kid, signing_kid)

    def _bounded_bytes(self, token: str | bytes) -> bytes:
        # The size limit comes before any parsing, so an oversized token
        # costs nothing but its length check.
        if not isinstance(token, str | bytes):
            raise MalformedToken("a token is a string")
        if len(token) > self._max_bytes:
            raise TokenTooLarge("token exceeds the size limit")
        if isinstance(token, bytes):
            return token
        try:
            return token.encode("ascii")
        except UnicodeEncodeError as exc:
            raise MalformedToken("token is not ASCII") from exc

    def _check_header(self, header: Mapping[str, Any]) -> None:
        for name in _STRING_MEMBERS:
            if name in header and not isinstance(header[name], str):
                raise MalformedToken("a header member is not a string")
        if "zip" in header:
            # Compression before encryption leaks plaintext through length
            # (RFC 7516 section 11.6), and python-jose's DEF is not RFC 1951.
            raise UnsupportedHeader("compressed tokens are refused")
        if not _KEY_REFERENCES.isdisjoint(header):
            raise UnsupportedHeader("key references in the header are refused")
        if "crit" in header:
            self._check_crit(header)

    def _check_crit(self, header: Mapping[str, Any]) -> None:
        # RFC 7515 section 4.1.11: a non-empty list of extension names, each
        # present in the header and understood by the recipient.
        names = header["crit"]
        if not isinstance(names, list) or not names:
            raise UnsupportedHeader("crit is not a non-empty list")
        if not all(isinstance(name, str) for name in names) or len(set(names)) != len(names):
            raise UnsupportedHeader("crit names are not unique strings")
        for name in names:
            if name not in self._understood_crit or name not in header:
                raise UnsupportedHeader("crit names an extension that is not understood")

    def _allowed_encryption(self, header: Mapping[str, Any]) -> tuple[str, str]:
        alg, enc = header.get("alg"), header.get("enc")
        if alg not in self._policy.key_management or enc not in self._policy.content_encryption:
            raise DisallowedAlgorithm("alg or enc is not allowed")
        return str(alg), str(enc)

    def _check_type(self, header: Mapping[str, Any]) -> None:
        if self._token_type is None:
            return
        # RFC 7515 section 4.1.9: media type names compare case-insensitively,
        # with or without the "application/" prefix.
        typ = str(header.get("typ", "")).lower().removeprefix("application/")
        if typ != self._token_type:
            raise TypeMismatch("the token type is not the expected one", claim="typ")

    def _decrypt(
        self, ring: KeyRing, parts: CompactJWE, alg: str, enc: str
    ) -> tuple[Key, bytes]:
        candidates = _candidate_keys(ring, parts.header.get("kid"), alg)
        # The fallback is built only when needed, so that a token that
        # decrypts costs no exception object.
        failure: TokenError | None = None
        for key in candidates:
            try:
                _content.check_shape(parts, alg, enc, key)
                return key, _content.decrypt(parts, alg, enc, key)
            except DecryptionFailed as exc:
                failure = exc
        raise failure or DecryptionFailed("no key decrypts the token")

    def _verify_inner(
        self, ring: KeyRing | None, plaintext: bytes
    ) -> tuple[dict[str, Any], str]:
        if ring is None:
            raise SignatureRequired("nested token but no verification keys are configured")
        inner = split_jws(plaintext)
        header = inner.header
        self._check_header(header)
        alg = header.get("alg")
        if alg not in self._policy.signature:
            raise DisallowedAlgorithm("inner alg is not allowed")
        for key in _candidate_keys(ring, header.get("kid"), str(alg)):
            if key.jose_key.verify(inner.signing_input, inner.signature):
                return parse_json_object(inner.payload), key.kid
        raise InvalidSignature("the inner signature does not verify")

    def _unsigned_payload(
        self, verification: KeyRing | None, plaintext: bytes, key: Key
    ) -> dict[str, Any]:
        if not self._allow_unsigned and (
            key.is_public_key_management or verification is not None
        ):
            raise SignatureRequired("an unsigned token is not accepted here")
        return parse_json_object(plaintext)


def _is_nested(header: Mapping[str, Any]) -> bool:
    # RFC 7519 section 5.2: "JWT", compared case-insensitively as a media type.
    cty = header.get("cty")
    return isinstance(cty, str) and cty.lower().removeprefix("application/") == "jwt"


def _candidate_keys(ring: KeyRing, kid: Any, alg: str) -> tuple[Key, ...]:
    if kid is None:
        keys = ring.with_alg(alg)
    else:
        key = ring.get(kid)
        keys = (key,) if key is not None and key.alg == alg else ()
    if not keys:
        raise UnknownKey("no key matches kid and alg", kid=kid if isinstance(kid, str) else None)
    return keys


def _claims_object(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise InvalidClaims("the claims are not a JSON object")
    return payload
