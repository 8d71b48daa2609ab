"""``RemoteJWKS``: the public signature keys an issuer publishes at an HTTPS URL."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import ssl
import time
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import urlsplit

from ._errors import JWKSUnavailable
from ._jwk_sets import LOAD_ERRORS, public_signature_ring
from ._reloading import Clock, check_seconds, describe, kids, warn_kept
from .keys import KeyRing

if TYPE_CHECKING:
    import httpx

__all__ = ["RemoteJWKS"]

logger = logging.getLogger("jwe_middleware")

_EMPTY = KeyRing(())
# A JWK set of a few keys is a few kilobytes; the cap keeps a misbehaving
# endpoint from filling memory.
_MAX_JWKS_BYTES = 256 * 1024


class _Attempt(NamedTuple):
    changed: bool
    error: BaseException | None


class RemoteJWKS:
    """The public signature keys published at an HTTPS JWK set URL.

    ``current()`` never fetches: it returns the last good ring, empty until
    the first fetch succeeds. Load it at start-up with ``await
    source.load()`` (or ``start()``), for instance in the app's lifespan.
    Afterwards the middleware calls ``refresh()`` when ``stale`` turns true
    or a token names an unknown kid. ``refresh()`` fetches at most once per
    ``refresh_cooldown`` seconds, joins concurrent callers onto one fetch,
    and keeps the last good ring on any failure.

    ``verify`` is a CA bundle path, an ``ssl.SSLContext`` or ``True`` (the
    default trust store). It applies to the short-lived client the source
    makes per fetch; pass ``client`` to use your own ``httpx.AsyncClient``
    and its TLS settings instead.
    """

    def __init__(
        self,
        url: str,
        *,
        max_age: float = 300.0,
        refresh_cooldown: float = 30.0,
        timeout: float = 2.0,
        verify: str | bool | ssl.SSLContext = True,
        client: httpx.AsyncClient | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self._url = _https_url(url)
        check_seconds("max_age", max_age)
        check_seconds("refresh_cooldown", refresh_cooldown, allow_zero=True)
        check_seconds("timeout", timeout)
        if client is None:
            _require_httpx()
        self._verify = _tls_verification(verify, client)
        self._client = client
        self._max_age, self._cooldown, self._timeout = max_age, refresh_cooldown, timeout
        self._clock = clock
        self._ring, self._fingerprint = _EMPTY, frozenset[str]()
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._inflight: asyncio.Task[_Attempt] | None = None

    def __repr__(self) -> str:
        return f"RemoteJWKS({_loggable(self._url)!r}, kids={kids(self._ring)!r})"

    @property
    def url(self) -> str:
        return self._url

    @property
    def stale(self) -> bool:
        """Whether ``max_age`` has passed since the last successful fetch (or none)."""
        fetched = self._fetched_at
        return fetched is None or self._clock() - fetched >= self._max_age

    def current(self) -> KeyRing:
        return self._ring

    async def start(self) -> None:
        """Fetch the set now, whatever the cooldown; raise ``JWKSUnavailable`` on failure."""
        attempt = await asyncio.shield(self._running_fetch() or self._begin_fetch())
        if attempt.error is not None:
            reason = describe(attempt.error)
            raise JWKSUnavailable(f"cannot fetch the JWK set: {reason}") from attempt.error

    async def load(self) -> RemoteJWKS:
        """``start()``, then return the source: ``keys = await RemoteJWKS(url).load()``."""
        await self.start()
        return self

    async def refresh(self) -> bool:
        """Fetch again unless the cooldown forbids it; return whether the ring changed."""
        task = self._running_fetch()
        if task is None:
            if not self._cooldown_over():
                return False
            task = self._begin_fetch()
        # Shielded: a caller that gives up (its client went away) must not
        # cancel the fetch the other callers are waiting on.
        return (await asyncio.shield(task)).changed

    def _cooldown_over(self) -> bool:
        # Counted from the last attempt, failed or not, so neither unknown
        # kids nor an outage can make every request a fetch.
        attempted = self._attempted_at
        return attempted is None or self._clock() - attempted >= self._cooldown

    def _running_fetch(self) -> asyncio.Task[_Attempt] | None:
        task = self._inflight
        if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
            return None
        return task

    def _begin_fetch(self) -> asyncio.Task[_Attempt]:
        # No await between the checks in refresh() and this assignment, so
        # every caller that comes later in this event loop sees the task.
        self._attempted_at = self._clock()
        self._inflight = asyncio.create_task(self._attempt())
        return self._inflight

    async def _attempt(self) -> _Attempt:
        import httpx

        try:
            body = await asyncio.wait_for(self._download(), self._timeout)
            ring, fingerprint = public_signature_ring(body)
        except (httpx.HTTPError, _FetchFailed, asyncio.TimeoutError, *LOAD_ERRORS) as exc:
            warn_kept(_loggable(self._url), exc, self._ring)
            return _Attempt(False, exc)
        except Exception as exc:
            # Unforeseen (a caller's client closed under us, say): still an
            # outage, and the last good ring stays in use.
            warn_kept(_loggable(self._url), exc, self._ring)
            return _Attempt(False, exc)
        return _Attempt(self._adopt(ring, fingerprint), None)

    def _adopt(self, ring: KeyRing, fingerprint: frozenset[str]) -> bool:
        self._fetched_at = self._clock()
        if fingerprint == self._fingerprint:
            return False
        self._ring, self._fingerprint = ring, fingerprint
        logger.info("JWK set %s fetched: kids %s", _loggable(self._url), kids(ring))
        return True

    async def _download(self) -> bytes:
        if self._client is not None:
            return await self._get(self._client)
        import httpx

        # A client per fetch: fetches are minutes apart, and a client tied
        # to no event loop leaves the source usable from any loop.
        verify = True if self._verify is None else self._verify
        async with httpx.AsyncClient(verify=verify) as client:
            return await self._get(client)

    async def _get(self, client: httpx.AsyncClient) -> bytes:
        accept = {"Accept": "application/jwk-set+json, application/json"}
        # httpx times each operation on its own; the one deadline that
        # matters, connect to last byte, is the wait_for around the fetch.
        # Redirects are not followed: the keys come from the configured URL
        # only, and a redirect could lead off HTTPS.
        request = client.stream(
            "GET", self._url, headers=accept, timeout=None, follow_redirects=False
        )
        async with request as response:
            if response.status_code != 200:
                raise _FetchFailed(f"HTTP status {response.status_code}")
            return await _read_bounded(response)


class _FetchFailed(Exception):
    """The server answered, but not with a JWK set."""


async def _read_bounded(response: httpx.Response) -> bytes:
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > _MAX_JWKS_BYTES:
            raise _FetchFailed(f"the response exceeds {_MAX_JWKS_BYTES} bytes")
    return bytes(body)


def _https_url(url: str) -> str:
    # Verification keys are only as trustworthy as the channel they came
    # over (RFC 7517 section 9.1): over plain HTTP anyone on the path could
    # substitute their own keys and mint tokens.
    if not isinstance(url, str):
        raise TypeError("the JWKS URL must be a string")
    parts = urlsplit(url)
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise ValueError("the JWKS URL must be an https:// URL with a host")
    return url


def _tls_verification(
    verify: str | bool | ssl.SSLContext, client: httpx.AsyncClient | None
) -> ssl.SSLContext | None:
    if client is not None:
        if verify is not True:
            raise ValueError("verify applies to the client RemoteJWKS makes; configure yours")
        return None
    if verify is True:
        import httpx

        # One context for every fetch: loading the CA bundle takes tens of
        # milliseconds, which a client per fetch would spend on the event loop.
        return httpx.create_ssl_context()
    if isinstance(verify, str):
        # Built now, so a wrong CA path fails at start-up, not at a fetch.
        if Path(verify).is_dir():
            return ssl.create_default_context(capath=verify)
        return ssl.create_default_context(cafile=verify)
    if isinstance(verify, ssl.SSLContext) and verify.check_hostname:
        return verify
    # Without verification, anyone on the path could serve their own keys:
    # the same hole as plain HTTP.
    raise ValueError("verify must be True, a CA path, or an SSLContext that checks the host")


def _require_httpx() -> None:
    if importlib.util.find_spec("httpx") is None:
        raise ImportError("RemoteJWKS needs httpx: install 'jwe-middleware[jwks]'")


def _loggable(url: str) -> str:
    # Query strings and user info can carry credentials; the log gets the rest.
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=host, query="", fragment="").geturl()
