"""``TokenCache``: remember tokens that were already decrypted and validated.

A client sends the same bearer token on every request until it expires, and
decrypting it again each time (an RSA private-key operation with RSA-OAEP) is
the largest cost on the request path. The cache maps a token to the result of
its first successful decode, under these rules:

* Entries are keyed by the SHA-256 digest of the exact token bytes; the token
  itself is never stored, so a memory dump of the cache yields no replayable
  bearer token. The decoded claims are stored, and hold whatever personal data
  the token carried. SHA-256 was measured faster than BLAKE2b here (OpenSSL's
  hardware SHA), and its full 256 bits leave no room for a crafted collision.
* An entry is trusted until ``min(exp, inserted_at + max_age)``. There is no
  leeway past ``exp``: the decoder's leeway absorbs clock skew at the first
  decode, and a cached answer must never outlive the token.
* Each entry remembers the ``key_version`` it was decoded under. A lookup with
  a different version is a miss and drops the entry, so rotating or revoking
  a key invalidates every token it opened.
* At most ``max_entries`` entries are kept; the least recently used goes
  first.

* The caller may cap an entry further with ``not_after``: the middleware
  passes the moment the decoder's own ``max_age`` (counted from ``iat``)
  would refuse the token, so a cached answer never outlives that rule either.

Revocation is not checked here: a revoked token stays cached until it
expires, so the middleware consults its revocation store on every request,
hit or miss.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import NamedTuple

from .decoder import DecodedToken

__all__ = ["TokenCache"]


class _Entry(NamedTuple):
    decoded: DecodedToken
    valid_until: float
    key_version: object


class TokenCache:
    """A bounded, thread-safe LRU map from token digests to decoded tokens.

    ``max_entries=0`` disables the cache: ``get`` always misses and ``put``
    does nothing. ``clock`` gives seconds since the epoch, the same clock as
    the decoder's.
    """

    def __init__(
        self,
        *,
        max_entries: int = 10_000,
        max_age: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 0:
            raise ValueError("max_entries must be an integer >= 0")
        if not _is_positive_seconds(max_age):
            raise ValueError("max_age must be a positive, finite number of seconds")
        self._max_entries = max_entries
        self._max_age = float(max_age)
        self._clock = clock
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()
        # asyncio tasks on one loop never interleave inside these methods (they
        # do not await); the lock is for threads, such as sync endpoints run in
        # a thread pool or several event loops sharing one cache.
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"TokenCache(entries={len(self)}, max_entries={self._max_entries})"

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def enabled(self) -> bool:
        return self._max_entries > 0

    def get(self, token: bytes | str, key_version: object) -> DecodedToken | None:
        """The cached decode of ``token``, or ``None`` when it must be decoded."""
        return self.lookup(self.digest(token), key_version)

    def put(
        self,
        token: bytes | str,
        decoded: DecodedToken,
        key_version: object,
        *,
        not_after: float | None = None,
    ) -> None:
        """Remember a token that was just decoded and validated under ``key_version``."""
        self.store(self.digest(token), decoded, key_version, not_after=not_after)

    def digest(self, token: bytes | str) -> bytes | None:
        """The key of ``token``, computed once for a ``lookup`` and a ``store``;
        ``None`` when the cache is off, which both then ignore."""
        return _digest(token) if self._max_entries else None

    def lookup(self, digest: bytes | None, key_version: object) -> DecodedToken | None:
        if digest is None:
            return None
        now = self._clock()
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            if not _still_valid(entry, key_version, now):
                del self._entries[digest]
                return None
            self._entries.move_to_end(digest)
        return entry.decoded

    def store(
        self,
        digest: bytes | None,
        decoded: DecodedToken,
        key_version: object,
        *,
        not_after: float | None = None,
    ) -> None:
        if digest is None:
            return
        now = self._clock()
        valid_until = self._valid_until(decoded, now)
        if not_after is not None:
            valid_until = min(valid_until, not_after)
        if valid_until <= now:
            return
        entry = _Entry(decoded, valid_until, key_version)
        with self._lock:
            entries = self._entries
            if digest in entries:
                entries.move_to_end(digest)
            entries[digest] = entry
            if len(entries) > self._max_entries:
                entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _valid_until(self, decoded: DecodedToken, now: float) -> float:
        expires_at = decoded.claims.expires_at
        capped = now + self._max_age
        return capped if expires_at is None else min(expires_at, capped)


def _digest(token: bytes | str) -> bytes:
    # surrogatepass keeps the encoding total and one-to-one, so a malformed
    # string still gets its own key instead of an exception.
    data = token.encode("utf-8", "surrogatepass") if isinstance(token, str) else token
    return hashlib.sha256(data).digest()


def _still_valid(entry: _Entry, key_version: object, now: float) -> bool:
    same_keys = entry.key_version is key_version or entry.key_version == key_version
    return same_keys and now < entry.valid_until


def _is_positive_seconds(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return 0 < value and math.isfinite(value)
