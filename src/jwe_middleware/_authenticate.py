"""Token to claims for the middleware: cache, decoder, key refresh, revocation.

The decoder is pure and synchronous; this layer adds what needs the event
loop or shared state. Revocation is asked on every request, cache hit or not,
so a revoked token stops working at once, not when its cache entry expires.
"""

from __future__ import annotations

import asyncio
import logging
from typing import NamedTuple

from ._cache import TokenCache
from ._errors import (
    InvalidClaims,
    MalformedToken,
    MissingClaim,
    RevocationUnavailable,
    RevokedToken,
    TokenError,
    UnknownKey,
)
from .decoder import DecodedToken, TokenDecoder
from .keys import KeySource
from .revocation import RevocationStore

__all__ = ["AuthOutcome", "Authenticator"]

logger = logging.getLogger("jwe_middleware")


class AuthOutcome(NamedTuple):
    decoded: DecodedToken
    cached: bool


class Authenticator:
    """Authenticate tokens for one middleware instance."""

    def __init__(
        self,
        decoder: TokenDecoder,
        revocation: RevocationStore | None,
        *,
        cache_size: int,
        cache_max_age: float,
        fail_open: bool = False,
    ) -> None:
        self._decoder = decoder
        self._revocation = revocation
        self._fail_open = fail_open
        self._refreshing: dict[KeySource, asyncio.Task[None]] = {}
        # Only sources that can go stale (a remote JWKS) are polled per request.
        self._stale_aware = tuple(s for s in decoder.key_sources if hasattr(s, "stale"))
        self._cache = TokenCache(max_entries=cache_size, max_age=cache_max_age, clock=decoder.clock)

    @property
    def cache(self) -> TokenCache:
        return self._cache

    async def authenticate(self, token: bytes) -> AuthOutcome:
        if self._stale_aware:
            self._refresh_stale_sources()
        digest = self._cache.digest(token)
        decoded = self._cache.lookup(digest, self._key_version())
        cached = decoded is not None
        if decoded is None:
            decoded = await self._decode(token)
            # Read again: an unknown kid may have refreshed the keys meanwhile.
            self._cache.store(
                digest,
                decoded,
                self._key_version(),
                not_after=self._decoder.rules.too_old_at(decoded.claims),
            )
        # Awaited only when a store is configured: a cache hit without
        # revocation then runs with no coroutine of its own.
        if self._revocation is not None:
            await self._check_revocation(decoded, self._revocation)
        return AuthOutcome(decoded, cached)

    async def revoke_exposed(self, token: bytes) -> bool:
        """Revoke a token that crossed in clear, if it is valid and revocable."""
        if self._revocation is None:
            return False
        try:
            decoded = await self._decode(token)
        except TokenError:
            return False
        jti, until = decoded.claims.get("jti"), self._decoder.accepted_until(decoded.claims)
        if not isinstance(jti, str) or until is None:
            return False
        try:
            await self._revocation.revoke(jti, until)
        except Exception as exc:
            # Whatever the store raised, the request is refused already; the
            # failure to revoke is for the operator to see.
            logger.error("could not revoke an exposed token: %s", type(exc).__name__)
            return False
        return True

    def _key_version(self) -> tuple[object, object]:
        return self._decoder.key_snapshot()

    async def _decode(self, token: bytes) -> DecodedToken:
        try:
            return self._decode_once(token)
        except UnknownKey:
            # A kid we do not know may be a key published since the last
            # fetch; each source applies its own cooldown, so this cannot
            # be used to force a fetch per request.
            if not await self._refresh_sources():
                raise
            return self._decode_once(token)

    def _decode_once(self, token: bytes) -> DecodedToken:
        try:
            return self._decoder.decode_token(token)
        except TokenError:
            raise
        except Exception as exc:
            # Fail closed: whatever a crafted token provokes inside a library
            # is an invalid token, never a 500.
            logger.error("decoder raised %s; treated as an invalid token", type(exc).__name__)
            raise MalformedToken("unexpected decoder failure") from exc

    async def _refresh_sources(self) -> bool:
        changed = False
        for source in self._decoder.key_sources:
            changed = await _refresh_quietly(source) or changed
        return changed

    def _refresh_stale_sources(self) -> None:
        # A stale remote set is refreshed in the background: requests keep
        # using the current keys instead of waiting for the fetch.
        for source in self._stale_aware:
            if getattr(source, "stale", False) and source not in self._refreshing:
                task = asyncio.create_task(self._refresh_in_background(source))
                self._refreshing[source] = task

    async def _refresh_in_background(self, source: KeySource) -> None:
        try:
            await _refresh_quietly(source)
        finally:
            self._refreshing.pop(source, None)

    async def _check_revocation(self, decoded: DecodedToken, store: RevocationStore) -> None:
        jti = decoded.claims.get("jti")
        if not isinstance(jti, str) or not jti:
            # A token without an id could never be revoked: refuse it where
            # revocation is in force.
            raise MissingClaim("revocation is configured but the token has no jti", claim="jti")
        try:
            revoked = await _ask_store(store, jti)
        except RevocationUnavailable as exc:
            if not self._fail_open:
                raise
            # The operator chose availability over revocation: the token is
            # otherwise valid, and the outage is loud in the log.
            logger.error("revocation store unavailable (%s): failing open", exc.detail)
            return
        if revoked:
            raise RevokedToken("the token has been revoked")


async def _refresh_quietly(source: KeySource) -> bool:
    # A source that fails to refresh keeps its last good keys; its failure
    # must not turn the request that asked into a 500.
    try:
        return await source.refresh()
    except Exception as exc:
        logger.warning("key refresh failed: %s", type(exc).__name__)
        return False


async def _ask_store(store: RevocationStore, jti: str) -> bool:
    try:
        return bool(await store.is_revoked(jti))
    except ValueError as exc:
        raise InvalidClaims("the jti is not acceptable", claim="jti") from exc
    except RevocationUnavailable:
        raise
    except Exception as exc:
        # A store that fails in a way it did not foresee (a client bound
        # to a closed event loop, say) cannot answer either: fail closed
        # through the same path as an outage, never a 500.
        raise RevocationUnavailable(f"store raised {type(exc).__name__}") from exc
