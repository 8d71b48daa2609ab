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

import logging
import os
import time
from pathlib import Path
from typing import NamedTuple

from ._errors import JWKSUnavailable
from ._jwk_sets import LOAD_ERRORS, read_key_file
from ._reloading import Clock, check_seconds, describe, kids, warn_kept
from ._remote_jwks import RemoteJWKS
from .keys import KeyRing

__all__ = ["JWKSUnavailable", "KeyFile", "RemoteJWKS"]

logger = logging.getLogger("jwe_middleware")


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
        check_seconds("check_interval", check_interval, allow_zero=True)
        self._path = Path(path)
        self._interval = float(check_interval)
        self._clock = clock
        self._stamp: _Stamp | None = _stat(self._path)
        try:
            self._ring, self._fingerprint = read_key_file(self._path)
        except (ValueError, TypeError, KeyError, RecursionError) as exc:
            raise ValueError(f"cannot load key file {self._path}: {describe(exc)}") from exc
        self._next_check = clock() + self._interval

    def __repr__(self) -> str:
        return f"KeyFile({str(self._path)!r}, kids={kids(self._ring)!r})"

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
                warn_kept(self._path, exc, self._ring)
            self._stamp = None
            return None

    def _load(self, stamp: _Stamp) -> bool:
        # The stamp is recorded before reading: a write that lands during
        # the read shows up as one more change at the next check, and a
        # broken version is read (and warned about) once, not every check.
        self._stamp = stamp
        try:
            ring, fingerprint = read_key_file(self._path)
        except LOAD_ERRORS as exc:
            warn_kept(self._path, exc, self._ring)
            return False
        return self._adopt(ring, fingerprint)

    def _adopt(self, ring: KeyRing, fingerprint: frozenset[str]) -> bool:
        if fingerprint == self._fingerprint:
            return False
        self._ring, self._fingerprint = ring, fingerprint
        logger.info("key file %s reloaded: kids %s", self._path, kids(ring))
        return True


def _stat(path: Path) -> _Stamp:
    result = os.stat(path)
    return _Stamp(result.st_ino, result.st_mtime_ns, result.st_size)
