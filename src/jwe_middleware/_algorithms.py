"""The three algorithm allowlists and what each algorithm needs.

Key management, content encryption and inner signatures are separate lists, so
allowing one never widens another. A header is checked against them before any
key is looked up (RFC 8725 section 3.1: the recipient, not the token, decides
which algorithms are acceptable).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "CBC_CONTENT",
    "CEK_BYTES",
    "DEFAULT_CONTENT_ALGORITHMS",
    "DEFAULT_KEY_ALGORITHMS",
    "DEFAULT_SIGNATURE_ALGORITHMS",
    "GCM_CONTENT",
    "KEY_WRAP_BYTES",
    "PUBLIC_KEY_MANAGEMENT",
    "AlgorithmPolicy",
]

PUBLIC_KEY_MANAGEMENT = frozenset({"RSA-OAEP", "RSA-OAEP-256"})
KEY_WRAP_BYTES = {"A128KW": 16, "A192KW": 24, "A256KW": 32}
SUPPORTED_KEY_ALGORITHMS = frozenset({"dir", *KEY_WRAP_BYTES, *PUBLIC_KEY_MANAGEMENT})

GCM_CONTENT = frozenset({"A128GCM", "A192GCM", "A256GCM"})
CBC_CONTENT = frozenset({"A128CBC-HS256", "A192CBC-HS384", "A256CBC-HS512"})
SUPPORTED_CONTENT_ALGORITHMS = GCM_CONTENT | CBC_CONTENT

# Length of the content encryption key each content algorithm takes
# (RFC 7518 sections 5.2.3 to 5.2.5 and 5.3).
CEK_BYTES = {
    "A128GCM": 16,
    "A192GCM": 24,
    "A256GCM": 32,
    "A128CBC-HS256": 32,
    "A192CBC-HS384": 48,
    "A256CBC-HS512": 64,
}

SUPPORTED_SIGNATURE_ALGORITHMS = frozenset(
    {"ES256", "ES384", "ES512", "RS256", "RS384", "RS512"}
)

DEFAULT_KEY_ALGORITHMS = ("dir", "A256KW", "RSA-OAEP-256")
DEFAULT_CONTENT_ALGORITHMS = ("A256GCM",)
DEFAULT_SIGNATURE_ALGORITHMS = ("ES256", "ES384", "RS256", "RS384", "RS512")

# Never accepted, whatever the configuration says. RSA1_5 is open to
# Bleichenbacher's attack (RFC 8725 section 3.2); "none" signs nothing; HMAC
# inner signatures would let a public verification key double as a secret.
_NEVER = {
    "RSA1_5": "RSAES-PKCS1-v1_5 key transport is open to padding oracle attacks",
    "none": "an unsigned JWS proves nothing",
    "HS256": "HMAC inner signatures are not supported",
    "HS384": "HMAC inner signatures are not supported",
    "HS512": "HMAC inner signatures are not supported",
}


@dataclass(frozen=True)
class AlgorithmPolicy:
    """The algorithms a decoder accepts, one allowlist per role."""

    key_management: frozenset[str]
    content_encryption: frozenset[str]
    signature: frozenset[str]

    @classmethod
    def build(
        cls,
        key_management: Iterable[str] = DEFAULT_KEY_ALGORITHMS,
        content_encryption: Iterable[str] = DEFAULT_CONTENT_ALGORITHMS,
        signature: Iterable[str] = DEFAULT_SIGNATURE_ALGORITHMS,
    ) -> AlgorithmPolicy:
        """Validate three allowlists against what this package can do safely."""
        return cls(
            _allowlist("key management", key_management, SUPPORTED_KEY_ALGORITHMS),
            _allowlist("content encryption", content_encryption, SUPPORTED_CONTENT_ALGORITHMS),
            _allowlist("signature", signature, SUPPORTED_SIGNATURE_ALGORITHMS, empty_ok=True),
        )


def _allowlist(
    role: str, names: Iterable[str], supported: frozenset[str], *, empty_ok: bool = False
) -> frozenset[str]:
    if isinstance(names, str):
        raise TypeError(f"{role} algorithms must be a list of names, not a string")
    chosen = frozenset(names)
    for name in chosen:
        if name in _NEVER:
            raise ValueError(f"{name} cannot be allowed: {_NEVER[name]}")
        if name not in supported:
            raise ValueError(f"{name!r} is not a supported {role} algorithm")
    if not chosen and not empty_ok:
        raise ValueError(f"at least one {role} algorithm must be allowed")
    return chosen
