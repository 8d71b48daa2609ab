"""JWK set documents read into key rings for the reloading sources.

Each reader returns the ring with a fingerprint of the set's members, so a
source can tell a real change of keys from a rewrite of the same set.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .keys import Key, KeyRing

__all__ = ["LOAD_ERRORS", "public_signature_ring", "read_key_file"]

LOAD_ERRORS = (OSError, ValueError, TypeError, KeyError, RecursionError)
# Members that only private or symmetric JWKs have (RFC 7518 section 6).
_NON_PUBLIC_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


def public_signature_ring(body: bytes) -> tuple[KeyRing, frozenset[str]]:
    members = _set_members(json.loads(body.decode("utf-8")))
    for member in members:
        _check_public(member)
    ring = KeyRing(_signature_key(member) for member in members)
    return ring, _fingerprint(members)


def _set_members(document: Any) -> list[Mapping[str, Any]]:
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise ValueError("the response is not a JWK set")
    members: list[Mapping[str, Any]] = document["keys"]
    if not members:
        raise ValueError("the JWK set is empty")
    if not all(isinstance(member, Mapping) for member in members):
        raise ValueError("a JWK set member is not an object")
    return members


def _check_public(member: Mapping[str, Any]) -> None:
    # A JWKS endpoint answers anyone, and non-public key material must never
    # reach parties without a right to it (RFC 7517 section 7). A set that
    # carries a private or symmetric key has leaked it, so whoever else
    # fetched it could now sign tokens this service would accept. The whole
    # set is refused, not just the member, so the leak is noticed.
    if member.get("kty") == "oct" or not _NON_PUBLIC_MEMBERS.isdisjoint(member):
        raise ValueError(f"the set holds a non-public key (kid {member.get('kid')!r})")


def _signature_key(member: Mapping[str, Any]) -> Key:
    # Key.from_jwk refuses a member without "alg": every key serves exactly
    # one algorithm (RFC 8725 section 3.1).
    key = Key.from_jwk(member)
    if key.use != "sig" or member.get("use", "sig") != "sig":
        raise ValueError(f"key {key.kid!r} is not a signature key")
    return key


def read_key_file(path: Path) -> tuple[KeyRing, frozenset[str]]:
    document = json.loads(path.read_bytes())
    ring = KeyRing.from_dict(document)
    if not len(ring):
        # Almost always a mistake, and one that would refuse every token.
        raise ValueError("the key set is empty")
    members: list[Mapping[str, Any]] = (
        [document] if "kty" in document else document.get("keys", [document])
    )
    return ring, _fingerprint(members)


def _fingerprint(members: list[Mapping[str, Any]]) -> frozenset[str]:
    # Canonical JSON of each member: reformatting or reordering a set is
    # not a change, so it does not hand the decoder a new snapshot.
    return frozenset(json.dumps(member, sort_keys=True) for member in members)
