"""The decoder's keys: sources, the checks a ring must pass, and rotation.

Key sources hand out immutable snapshots. A new snapshot is checked once,
when it first appears, never per token. A snapshot that fails the checks
(a signing key dropped into the decryption file, say) is reported once and
ignored: the decoder keeps the last good rings rather than refusing every
token until someone notices.
"""

from __future__ import annotations

import logging

from ._algorithms import CEK_BYTES, AlgorithmPolicy
from .keys import Key, KeyRing, KeySource

__all__ = ["CheckedKeys"]

logger = logging.getLogger("jwe_middleware")

_MAX_RETIRED_KIDS = 64


class CheckedKeys:
    """The current decryption and verification rings, checked against a policy."""

    def __init__(
        self,
        decryption: KeySource,
        verification: KeySource | None,
        policy: AlgorithmPolicy,
        *,
        allow_unsigned: bool,
    ) -> None:
        self._decryption_source = _key_source(decryption, "decryption_keys")
        self._verification_source = (
            None if verification is None else _key_source(verification, "verification_keys")
        )
        self._policy = policy
        self._allow_unsigned = allow_unsigned
        self._retired: dict[str, None] = {}
        self._decryption = KeyRing(())
        self._verification: KeyRing | None = None
        # The first snapshot must pass: a bad configuration fails at start-up.
        self._adopt(*self._snapshots())

    @property
    def sources(self) -> tuple[KeySource, ...]:
        sources = (self._decryption_source, self._verification_source)
        return tuple(source for source in sources if source is not None)

    def describe(self) -> str:
        return (
            f"decryption_keys={self._decryption_source!r}, "
            f"verification_keys={self._verification_source!r}"
        )

    def current(self) -> tuple[KeyRing, KeyRing | None]:
        decryption, verification = self._snapshots()
        if decryption is not self._seen_decryption or verification is not self._seen_verification:
            self._try_adopt(decryption, verification)
        return self._decryption, self._verification

    def is_retired(self, kid: str | None) -> bool:
        """Whether ``kid`` named a decryption or verification key that has since
        left its ring."""
        self.current()
        return kid is not None and kid in self._retired

    def _snapshots(self) -> tuple[KeyRing, KeyRing | None]:
        verification = self._verification_source
        return (
            self._decryption_source.current(),
            None if verification is None else verification.current(),
        )

    def _try_adopt(self, decryption: KeyRing, verification: KeyRing | None) -> None:
        try:
            self._adopt(decryption, verification)
        except (TypeError, ValueError) as exc:
            logger.warning("new key set ignored, keeping the previous one: %s", exc)
            self._seen_decryption, self._seen_verification = decryption, verification

    def _adopt(self, decryption: KeyRing, verification: KeyRing | None) -> None:
        checked_decryption = _check_decryption_ring(decryption, self._policy)
        checked_verification = _check_verification_ring(verification, self._policy)
        _check_signing_policy(checked_decryption, checked_verification, self._allow_unsigned)
        self._remember_retired(checked_decryption, checked_verification)
        self._decryption, self._verification = checked_decryption, checked_verification
        self._seen_decryption, self._seen_verification = decryption, verification

    def _remember_retired(self, decryption: KeyRing, verification: KeyRing | None) -> None:
        # Kept in insertion order and bounded, so a long-lived process that
        # rotates often does not grow without limit.
        empty = KeyRing(())
        old_rings = (self._decryption, self._verification or empty)
        new_rings = (decryption, verification or empty)
        for old, new in zip(old_rings, new_rings, strict=True):
            for key in old:
                if key.kid not in new:
                    self._retired[key.kid] = None
        for kid in [kid for kid in self._retired if any(kid in ring for ring in new_rings)]:
            del self._retired[kid]
        while len(self._retired) > _MAX_RETIRED_KIDS:
            del self._retired[next(iter(self._retired))]


def _key_source(source: KeySource, name: str) -> KeySource:
    if not isinstance(source, KeySource):
        raise TypeError(f"{name} must be a KeyRing or a KeySource")
    return source


def _check_decryption_ring(ring: KeyRing, policy: AlgorithmPolicy) -> KeyRing:
    if not isinstance(ring, KeyRing):
        raise TypeError("the decryption key source did not give a KeyRing")
    if not len(ring):
        raise ValueError("decryption_keys is empty")
    for key in ring:
        if key.use != "enc" or not key.is_private:
            raise ValueError(f"key {key.kid!r} cannot decrypt: it is not a private encryption key")
        if key.alg not in policy.key_management:
            raise ValueError(f"key {key.kid!r} is for {key.alg}, which key_algorithms excludes")
        if key.alg == "dir":
            _check_dir_length(key, policy)
    return ring


def _check_dir_length(key: Key, policy: AlgorithmPolicy) -> None:
    # With dir the key is the content encryption key itself (RFC 7518
    # section 4.5), so its length picks the content algorithm. A key that
    # fits none of the allowed ones would refuse every token at request time.
    size = len(key.material)
    if not any(CEK_BYTES[enc] == size for enc in policy.content_encryption):
        raise ValueError(
            f"dir key {key.kid!r} has {size} bytes, "
            "which fits no algorithm in content_algorithms"
        )


def _check_verification_ring(ring: KeyRing | None, policy: AlgorithmPolicy) -> KeyRing | None:
    if ring is None:
        return None
    if not isinstance(ring, KeyRing):
        raise TypeError("the verification key source did not give a KeyRing")
    for key in ring:
        if key.use != "sig":
            raise ValueError(f"key {key.kid!r} is not a signature key")
        if key.alg not in policy.signature:
            raise ValueError(f"key {key.kid!r} is for {key.alg}, not an allowed signature")
    # Verify with public halves only: a private key in the verification
    # ring would be a signing key lying around where none is needed.
    return ring.public()


def _check_signing_policy(
    decryption: KeyRing, verification: KeyRing | None, allow_unsigned: bool
) -> None:
    public = [key.kid for key in decryption if key.is_public_key_management]
    if public and verification is None and not allow_unsigned:
        raise ValueError(
            "RSA-OAEP keys let anyone with the public key mint tokens: configure "
            "verification_keys for signed (nested) tokens, or set allow_unsigned=True"
        )
