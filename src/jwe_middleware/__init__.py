"""Encrypted bearer tokens (JWE, nested JWT) for FastAPI and Starlette.

The supported surface is what this module exports; everything in a module
whose name starts with an underscore may change without notice.
"""

from __future__ import annotations

from ._algorithms import (
    DEFAULT_CONTENT_ALGORITHMS,
    DEFAULT_KEY_ALGORITHMS,
    DEFAULT_SIGNATURE_ALGORITHMS,
)
from ._errors import (
    AmbiguousCredentials,
    AudienceMismatch,
    DecryptionFailed,
    DisallowedAlgorithm,
    ExpiredToken,
    ImmatureToken,
    InsecureTransport,
    InvalidClaims,
    InvalidSignature,
    IssuerMismatch,
    JWEMiddlewareError,
    JWKSUnavailable,
    MalformedToken,
    MissingClaim,
    RequestError,
    RevocationUnavailable,
    RevokedToken,
    SignatureRequired,
    TokenError,
    TokenTooLarge,
    TokenTooOld,
    TransportError,
    TypeMismatch,
    UnknownKey,
    UnsupportedHeader,
)
from .claims import DEFAULT_LEEWAY, Claims
from .decoder import DEFAULT_MAX_TOKEN_BYTES, DecodedToken, TokenDecoder
from .issuer import TokenIssuer
from .keys import Key, KeyRing, KeySource, generate_key
from .middleware import JWEMiddleware
from .revocation import MemoryRevocationStore, RedisRevocationStore, RevocationStore
from .sources import KeyFile, RemoteJWKS
from .telemetry import AuthEvent, PrometheusMetrics, TokenMetrics

__all__ = [
    "DEFAULT_CONTENT_ALGORITHMS",
    "DEFAULT_KEY_ALGORITHMS",
    "DEFAULT_LEEWAY",
    "DEFAULT_MAX_TOKEN_BYTES",
    "DEFAULT_SIGNATURE_ALGORITHMS",
    "AmbiguousCredentials",
    "AudienceMismatch",
    "AuthEvent",
    "Claims",
    "DecodedToken",
    "DecryptionFailed",
    "DisallowedAlgorithm",
    "ExpiredToken",
    "ImmatureToken",
    "InsecureTransport",
    "InvalidClaims",
    "InvalidSignature",
    "IssuerMismatch",
    "JWEMiddleware",
    "JWEMiddlewareError",
    "JWKSUnavailable",
    "Key",
    "KeyFile",
    "KeyRing",
    "KeySource",
    "MalformedToken",
    "MemoryRevocationStore",
    "MissingClaim",
    "PrometheusMetrics",
    "RedisRevocationStore",
    "RemoteJWKS",
    "RequestError",
    "RevocationStore",
    "RevocationUnavailable",
    "RevokedToken",
    "SignatureRequired",
    "TokenDecoder",
    "TokenError",
    "TokenIssuer",
    "TokenMetrics",
    "TokenTooLarge",
    "TokenTooOld",
    "TransportError",
    "TypeMismatch",
    "UnknownKey",
    "UnsupportedHeader",
    "generate_key",
]
