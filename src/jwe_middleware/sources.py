"""Key sources that change while the service runs.

``KeyFile`` watches a JWK set file on disk; ``RemoteJWKS`` keeps the public
signature keys an issuer publishes at an HTTPS URL. Both implement
``KeySource``: ``current()`` hands out an immutable ``KeyRing`` snapshot, and
the same object until the keys really change, because a decoder re-checks a
ring only when a new one appears.

Both keep the last good ring when a reload fails. A half-written file or an
outage of the key server must not lock every user out; the failure goes to
the ``jwe_middleware`` logger with the path or URL and a reason, never key
material.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import os
import ssl
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from ._errors import JWKSUnavailable
from .keys import Key, KeyRing

if TYPE_CHECKING:
    import httpx

__all__ = ["JWKSUnavailable", "KeyFile", "RemoteJWKS"]

logger = logging.getLogger("jwe_middleware")

Clock = Callable[[], float]

_EMPTY = KeyRing(())
# A JWK set of a few keys is a few kilobytes; the cap keeps a misbehaving
# endpoint from filling memory.
_MAX_JWKS_BYTES = 256 * 1024
# Members that only private or symmetric JWKs have (RFC 7518 section 6).
_NON_PUBLIC_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_LOAD_ERRORS = (OSError, ValueError, TypeError, KeyError, RecursionError)


class _Stamp(NamedTuple):
    """What a stat tells about a file; the inode catches an atomic rename."""

    inode: int
    mtime_ns: int
    size: int


class KeyFile:
    """A JWK set file, reloaded when it changes on disk.

    The file is loaded at construction, and any error raises then.
    ``current()`` compares the clock with the next check time on every call
    and stats the file at most every ``check_interval`` seconds; it reads
    the file again only when its inode, mtime or size changed. Replace the
    file atomically (write a temporary file, then rename it) so a reader
    never sees half of it.
    """

    def __init__(
        self, path: str | Path, *, check_interval: float = 5.0, clock: Clock = time.monotonic
    ) -> None:
        _check_seconds("check_interval", check_interval, allow_zero=True)
        self._path = Path(path)
        self._interval = float(check_interval)
        self._clock = clock
        self._stamp: _Stamp | None = _stat(self._path)
        try:
            self._ring, self._fingerprint = _read_key_file(self._path)
        except (ValueError, TypeError, KeyError, RecursionError) as exc:
            raise ValueError(f"cannot load key file {self._path}: {_describe(exc)}") from exc
        self._next_check = clock() + self._interval

    def __repr__(self) -> str:
        return f"KeyFile({str(self._path)!r}, kids={_kids(self._ring)!r})"

    @property
    def path(self) -> Path:
        return self._path

    def current(self) -> KeyRing:
        if self._clock() >= self._next_check:
            self._check_file()
        return self._ring

    async def refresh(self) -> bool:
        """Look at the file now; return whether the keys changed.

        The middleware calls this when a token names an unknown kid, so it
        must stay cheap under a flood of such tokens: a stat, and a read
        only when the file changed.
        """
        return self._check_file()

    def reload(self) -> bool:
        """Read the file now, even if it looks unchanged; return whether the keys changed."""
        stamp = self._stat_or_warn()
        return False if stamp is None else self._load(stamp)

    def _check_file(self) -> bool:
        self._next_check = self._clock() + self._interval
        stamp = self._stat_or_warn()
        if stamp is None or stamp == self._stamp:
            return False
        return self._load(stamp)

    def _stat_or_warn(self) -> _Stamp | None:
        try:
            return _stat(self._path)
        except OSError as exc:
            # Warn once per disappearance, not at every check.
            if self._stamp is not None:
                _warn_kept(self._path, exc, self._ring)
            self._stamp = None
            return None

    def _load(self, stamp: _Stamp) -> bool:
        # The stamp is recorded before reading: a write that lands during
        # the read shows up as one more change at the next check, and a
        # broken version is read (and warned about) once, not every check.
        self._stamp = stamp
        try:
            ring, fingerprint = _read_key_file(self._path)
        except _LOAD_ERRORS as exc:
            _warn_kept(self._path, exc, self._ring)
            return False
        return self._adopt(ring, fingerprint)

    def _adopt(self, ring: KeyRing, fingerprint: frozenset[str]) -> bool:
        if fingerprint == self._fingerprint:
            return False
        self._ring, self._fingerprint = ring, fingerprint
        logger.info("key file %s reloaded: kids %s", self._path, _kids(ring))
        return True


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
        _check_seconds("max_age", max_age)
        _check_seconds("refresh_cooldown", refresh_cooldown, allow_zero=True)
        _check_seconds("timeout", timeout)
        self._verify = _tls_verification(verify, client)
        if client is None:
            _require_httpx()
        self._client = client
        self._max_age, self._cooldown, self._timeout = max_age, refresh_cooldown, timeout
        self._clock = clock
        self._ring, self._fingerprint = _EMPTY, frozenset[str]()
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._inflight: asyncio.Task[_Attempt] | None = None

    def __repr__(self) -> str:
        return f"RemoteJWKS({_loggable(self._url)!r}, kids={_kids(self._ring)!r})"

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
            reason = _describe(attempt.error)
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
            ring, fingerprint = _public_signature_ring(body)
        except (httpx.HTTPError, _FetchFailed, asyncio.TimeoutError, *_LOAD_ERRORS) as exc:
            _warn_kept(_loggable(self._url), exc, self._ring)
            return _Attempt(False, exc)
        return _Attempt(self._adopt(ring, fingerprint), None)

    def _adopt(self, ring: KeyRing, fingerprint: frozenset[str]) -> bool:
        self._fetched_at = self._clock()
        if fingerprint == self._fingerprint:
            return False
        self._ring, self._fingerprint = ring, fingerprint
        logger.info("JWK set %s fetched: kids %s", _loggable(self._url), _kids(ring))
        return True

    async def _download(self) -> bytes:
        if self._client is not None:
            return await self._get(self._client)
        import httpx

        # A client per fetch: fetches are minutes apart, and a client tied
        # to no event loop leaves the source usable from any loop.
        async with httpx.AsyncClient(verify=self._verify) as client:
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


def _public_signature_ring(body: bytes) -> tuple[KeyRing, frozenset[str]]:
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
) -> bool | ssl.SSLContext:
    if client is not None and verify is not True:
        raise ValueError("verify applies to the client RemoteJWKS makes; configure yours")
    if verify is True:
        return True
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


def _read_key_file(path: Path) -> tuple[KeyRing, frozenset[str]]:
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


def _stat(path: Path) -> _Stamp:
    result = os.stat(path)
    return _Stamp(result.st_ino, result.st_mtime_ns, result.st_size)


def _check_seconds(name: str, value: float, *, allow_zero: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number of seconds")
    if value < 0 or (value == 0 and not allow_zero) or value != value:
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else 'positive'}")


def _warn_kept(where: object, exc: BaseException, ring: KeyRing) -> None:
    logger.warning(
        "could not load keys from %s (%s); keeping the last good set, kids %s",
        where, _describe(exc), _kids(ring),
    )


def _describe(exc: BaseException) -> str:
    """A one-line reason safe for the log: never file contents or key material."""
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out"
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    if isinstance(exc, json.JSONDecodeError):
        return f"not JSON (line {exc.lineno}, column {exc.colno})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    lines = str(exc).splitlines()
    return lines[0] if lines else type(exc).__name__


def _kids(ring: KeyRing) -> list[str]:
    return sorted(key.kid for key in ring)


def _loggable(url: str) -> str:
    # Query strings and user info can carry credentials; the log gets the rest.
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=host, query="", fragment="").geturl()
