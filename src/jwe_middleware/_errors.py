"""The exceptions of jwe-middleware.

Every exception carries a stable short ``code``: the log and the metrics speak
in codes, the client never sees them (RFC 7516 section 11.5: a recipient must
not reveal which step of decryption failed). No exception knows an HTTP status;
the middleware maps them to responses in one place.

    JWEMiddlewareError
    ├── TokenError                      the token is not acceptable
    │   ├── MalformedToken              "malformed"
    │   │   └── TokenTooLarge           "too_large"
    │   ├── UnsupportedHeader           "unsupported_header"
    │   ├── DisallowedAlgorithm         "disallowed_algorithm"
    │   ├── UnknownKey                  "unknown_key"
    │   ├── DecryptionFailed            "decryption_failed"
    │   ├── InvalidSignature            "invalid_signature"
    │   ├── SignatureRequired           "signature_required"
    │   ├── InvalidClaims               "invalid_claims"
    │   │   ├── ExpiredToken            "expired"
    │   │   ├── ImmatureToken           "not_yet_valid"
    │   │   ├── MissingClaim            "missing_claim"
    │   │   ├── IssuerMismatch          "invalid_issuer"
    │   │   ├── AudienceMismatch        "invalid_audience"
    │   │   ├── TokenTooOld             "too_old"
    │   │   └── TypeMismatch            "invalid_type"
    │   └── RevokedToken                "revoked"
    ├── RequestError                    the request itself is malformed
    │   └── AmbiguousCredentials        "invalid_request"
    ├── TransportError                  the channel is not acceptable
    │   └── InsecureTransport           "insecure_transport"
    ├── RevocationUnavailable           "revocation_unavailable"
    └── JWKSUnavailable                 "jwks_unavailable"
"""

from __future__ import annotations

__all__ = [
    "AmbiguousCredentials",
    "AudienceMismatch",
    "DecryptionFailed",
    "DisallowedAlgorithm",
    "ExpiredToken",
    "ImmatureToken",
    "InsecureTransport",
    "InvalidClaims",
    "InvalidSignature",
    "IssuerMismatch",
    "JWEMiddlewareError",
    "JWKSUnavailable",
    "MalformedToken",
    "MissingClaim",
    "RequestError",
    "RevocationUnavailable",
    "RevokedToken",
    "SignatureRequired",
    "TokenError",
    "TokenTooLarge",
    "TokenTooOld",
    "TransportError",
    "TypeMismatch",
    "UnknownKey",
    "UnsupportedHeader",
]


class JWEMiddlewareError(Exception):
    """The base of every exception raised by jwe-middleware.

    ``code`` is stable and safe to log; ``detail`` is a short internal note
    (never a token, a claim value or a key) for the log and for debugging.
    """

    code = "error"

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.code)
        self.detail = detail


class TokenError(JWEMiddlewareError):
    """The token cannot be accepted."""

    code = "invalid_token"


class MalformedToken(TokenError):
    """The token is not a well-formed compact JWE or JWS."""

    code = "malformed"


class TokenTooLarge(MalformedToken):
    """The token is longer than the configured limit; it was not parsed."""

    code = "too_large"


class UnsupportedHeader(TokenError):
    """The header asks for something that is refused (crit, zip, jku, ...)."""

    code = "unsupported_header"


class DisallowedAlgorithm(TokenError):
    """The header names an algorithm outside the configured allowlist."""

    code = "disallowed_algorithm"


class UnknownKey(TokenError):
    """No key of the key ring matches the header's kid and alg.

    ``kid`` is the kid the token named (attacker-chosen text: count it only
    against kids this service knows, never log or label it as is).
    """

    code = "unknown_key"

    def __init__(self, detail: str = "", *, kid: str | None = None) -> None:
        super().__init__(detail)
        self.kid = kid


class DecryptionFailed(TokenError):
    """The key could not decrypt the token, or its authentication tag is wrong."""

    code = "decryption_failed"


class InvalidSignature(TokenError):
    """The inner signed token does not verify."""

    code = "invalid_signature"


class SignatureRequired(TokenError):
    """The token carries no inner signature, and this policy demands one."""

    code = "signature_required"


class InvalidClaims(TokenError):
    """The claims are not a JSON object, or break a claim rule.

    ``claim`` names the claim at fault (a name, never its value).
    """

    code = "invalid_claims"

    def __init__(self, detail: str = "", *, claim: str | None = None) -> None:
        super().__init__(detail)
        self.claim = claim


class ExpiredToken(InvalidClaims):
    """``exp`` has passed, leeway included."""

    code = "expired"


class ImmatureToken(InvalidClaims):
    """``nbf`` or ``iat`` lies in the future, leeway included."""

    code = "not_yet_valid"


class MissingClaim(InvalidClaims):
    """A required claim is absent."""

    code = "missing_claim"


class IssuerMismatch(InvalidClaims):
    """``iss`` is not the configured issuer."""

    code = "invalid_issuer"


class AudienceMismatch(InvalidClaims):
    """``aud`` does not name the configured audience."""

    code = "invalid_audience"


class TokenTooOld(InvalidClaims):
    """``iat`` is older than the configured maximum age."""

    code = "too_old"


class TypeMismatch(InvalidClaims):
    """The header's ``typ`` is not the configured one."""

    code = "invalid_type"


class RevokedToken(TokenError):
    """The token's ``jti`` is on the revocation list."""

    code = "revoked"


class RequestError(JWEMiddlewareError):
    """The request carries credentials in a form that cannot be read."""

    code = "invalid_request"


class AmbiguousCredentials(RequestError):
    """Two tokens, or an Authorization header that is not a bearer token."""

    code = "invalid_request"


class TransportError(JWEMiddlewareError):
    """The request did not arrive over an acceptable channel."""

    code = "transport"


class InsecureTransport(TransportError):
    """The request arrived over plain HTTP (or ws)."""

    code = "insecure_transport"


class RevocationUnavailable(JWEMiddlewareError):
    """The revocation store could not be asked; the request fails closed."""

    code = "revocation_unavailable"


class JWKSUnavailable(JWEMiddlewareError):
    """A remote JWK set could not be fetched; ``__cause__`` says why."""

    code = "jwks_unavailable"
