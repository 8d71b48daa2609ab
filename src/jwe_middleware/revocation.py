"""Revocation lists: the ``jti`` values of tokens refused before their ``exp``.

A revoked entry only needs to live as long as the token it blocks: after
``exp`` the token is refused anyway, so every entry expires at the token's own
expiry time and the list never grows without bound.

``MemoryRevocationStore`` serves a single process and is the default.
``RedisRevocationStore`` shares the list between instances; it needs the
``redis`` extra. Both speak the ``RevocationStore`` protocol, which is all the
decoder relies on.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
import re
import threading
import time
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from jwe_middleware._errors import RevocationUnavailable

if TYPE_CHECKING:
    from collections.abc import Callable

    from redis.asyncio import Redis

__all__ = ["MemoryRevocationStore", "RedisRevocationStore", "RevocationStore"]

logger = logging.getLogger(__name__)

MAX_JTI_LENGTH = 256

# C0 and C1 controls and DEL: a jti becomes part of a Redis key and may reach
# a log line, where such characters could forge structure.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@runtime_checkable
class RevocationStore(Protocol):
    """Where revoked token ids are kept until the tokens would expire.

    ``until`` is the unix time after which the token is refused anyway: its
    ``exp`` plus the decoder's leeway (``TokenDecoder.accepted_until``); an
    entry is forgotten after it. Revoking with an ``until`` already past
    does nothing. Both methods raise ``ValueError`` for a jti that is not a
    non-empty string of at most 256 characters without control characters.
    A store that cannot answer raises ``RevocationUnavailable``: the caller
    then refuses the token rather than guess (fail closed).
    """

    async def revoke(self, jti: str, until: float) -> None: ...

    async def is_revoked(self, jti: str) -> bool: ...


def _check_jti(jti: object) -> str:
    # Messages name the rule, never the value: a jti is token content.
    if not isinstance(jti, str) or not jti:
        raise ValueError("jti must be a non-empty string")
    if len(jti) > MAX_JTI_LENGTH:
        raise ValueError(f"jti must be at most {MAX_JTI_LENGTH} characters")
    if _CONTROL_CHARACTERS.search(jti):
        raise ValueError("jti must not contain control characters")
    return jti


def _check_until(until: float) -> float:
    # An infinite entry could never be purged, and Redis has no such expiry.
    if not math.isfinite(until):
        raise ValueError("until must be a finite unix time")
    return until


class MemoryRevocationStore:
    """A revocation list in this process's memory.

    It holds at most ``max_entries`` live entries. When a new revocation
    would exceed that, the entries nearest their expiry are dropped first
    (the new one included, should it expire soonest): a dropped token becomes
    acceptable again, and dropping the soonest-expiring keeps that window as
    short as possible, never forgetting an entry while one that lasts longer
    stays. Each drop is logged as a warning; size the bound above the number
    of tokens you expect to revoke within one token lifetime.

    Expired entries are purged as the store is used. The methods never await
    while they change the list, and a lock guards it, so it is safe for
    concurrent tasks and for event loops in several threads.
    """

    def __init__(
        self,
        *,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int):
            raise TypeError("max_entries must be an int")
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries = max_entries
        self._clock = clock
        self._until: dict[str, float] = {}
        # A min-heap by expiry, so purging and eviction take the soonest
        # entry cheaply; pairs no longer matching _until are stale, skipped.
        self._by_expiry: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(entries={len(self._until)}, "
            f"max_entries={self._max_entries})"
        )

    def __len__(self) -> int:
        return len(self._until)

    async def revoke(self, jti: str, until: float) -> None:
        _check_jti(jti)
        _check_until(until)
        with self._lock:
            now = self._clock()
            self._purge_expired(now)
            if until > now:
                self._insert(jti, until)

    async def is_revoked(self, jti: str) -> bool:
        _check_jti(jti)
        with self._lock:
            now = self._clock()
            # After the purge every entry left is still in force.
            self._purge_expired(now)
            return jti in self._until

    def _insert(self, jti: str, until: float) -> None:
        # The same jti revoked twice keeps the later expiry, so a second
        # call can never shorten a revocation.
        current = self._until.get(jti)
        if current is not None and current >= until:
            return
        self._until[jti] = until
        heapq.heappush(self._by_expiry, (until, jti))
        while len(self._until) > self._max_entries:
            self._evict_soonest()
        self._compact_if_stale()

    def _purge_expired(self, now: float) -> None:
        while self._by_expiry and self._by_expiry[0][0] <= now:
            self._drop_soonest()

    def _evict_soonest(self) -> None:
        if self._drop_soonest():
            logger.warning(
                "revocation store full (%d entries): forgot the entry "
                "nearest expiry",
                self._max_entries,
            )

    def _drop_soonest(self) -> bool:
        """Pop the heap's head; tell whether it was a live entry."""
        until, jti = heapq.heappop(self._by_expiry)
        if self._until.get(jti) != until:
            return False
        del self._until[jti]
        return True

    def _compact_if_stale(self) -> None:
        # Repeated revocations of one jti leave stale pairs behind; rebuild
        # once they outnumber live ones so the heap stays bounded too.
        if len(self._by_expiry) > 2 * len(self._until) + 64:
            self._by_expiry = [(until, jti) for jti, until in self._until.items()]
            heapq.heapify(self._by_expiry)


class RedisRevocationStore:
    """A revocation list in Redis, shared by every instance that points at it.

    Each entry is the key ``prefix + jti`` with an absolute expiry at the
    token's ``until`` (``SET ... PXAT``, Redis 6.2 or later), so Redis purges
    entries itself. Any failure to reach Redis raises
    ``RevocationUnavailable``; the token is then refused, because accepting
    it could let a revoked token through.

    A store built by ``from_url`` owns its client and ``aclose`` closes it;
    a client passed in stays the caller's to close.
    """

    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = "jwe:revoked:",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(prefix, str):
            raise TypeError("prefix must be a str")
        self._client = client
        self._prefix = prefix
        self._clock = clock
        self._owns_client = False
        self._failures = _redis_failures()

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = "jwe:revoked:",
        timeout: float = 0.5,
        clock: Callable[[], float] = time.time,
    ) -> RedisRevocationStore:
        """Build a store and its own client from ``redis://`` or ``rediss://``.

        ``timeout`` bounds both connecting and each reply, in seconds: every
        authenticated request may wait on this store, so a slow Redis must
        fail fast rather than stall the service.
        """
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        client = _client_from_url(url, timeout)
        store = cls(client, prefix=prefix, clock=clock)
        store._owns_client = True
        return store

    def __repr__(self) -> str:
        # The client is left out: its connection settings hold the password.
        return f"{type(self).__name__}(prefix={self._prefix!r})"

    async def revoke(self, jti: str, until: float) -> None:
        key = self._key(jti)
        _check_until(until)
        if until <= self._clock():
            return
        # Whole milliseconds rounded up: the entry must not vanish before
        # the token it blocks does.
        expires_at_ms = math.ceil(until * 1000)
        try:
            await self._client.set(key, 1, pxat=expires_at_ms)
        except self._failures as exc:
            raise _unavailable("revoke", exc) from exc

    async def is_revoked(self, jti: str) -> bool:
        key = self._key(jti)
        try:
            found = await self._client.exists(key)
        except self._failures as exc:
            raise _unavailable("is_revoked", exc) from exc
        return found > 0

    async def aclose(self) -> None:
        """Close the client if this store built it (see the class notes)."""
        if self._owns_client:
            await self._client.aclose()

    def _key(self, jti: str) -> str:
        return self._prefix + _check_jti(jti)


def _client_from_url(url: str, timeout: float) -> Redis:
    # Imported here so the core install, without the redis extra, can still
    # import this module and use the memory store.
    try:
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
    except ImportError as exc:
        raise ImportError(
            "RedisRevocationStore needs the redis extra: "
            "pip install 'jwe-middleware[redis]'"
        ) from exc

    # One immediate retry recovers a pooled connection the server dropped
    # while idle; more retries with backoff would multiply the wait of a
    # request that fails closed anyway.
    return Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 1),
    )


def _redis_failures() -> tuple[type[BaseException], ...]:
    from redis.exceptions import RedisError

    # redis-py wraps most socket trouble in its own ConnectionError and
    # TimeoutError (both RedisError); OSError and asyncio's TimeoutError
    # (distinct from the builtin before 3.11) cover what slips through.
    return (RedisError, OSError, asyncio.TimeoutError)


def _unavailable(operation: str, exc: BaseException) -> RevocationUnavailable:
    # The detail names the operation and the error class only: the jti, the
    # key and the server's own message stay out of logs built from it.
    return RevocationUnavailable(f"redis {operation} failed: {type(exc).__name__}")
