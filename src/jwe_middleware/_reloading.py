"""What the reloading key sources share: the clock, interval checks, and the
warning that keeps the last good set, with a reason safe for the log.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable

from .keys import KeyRing

__all__ = ["Clock", "check_seconds", "describe", "kids", "warn_kept"]

logger = logging.getLogger("jwe_middleware")

Clock = Callable[[], float]


def check_seconds(name: str, value: float, *, allow_zero: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number of seconds")
    if value < 0 or (value == 0 and not allow_zero) or value != value:
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else 'positive'}")


def warn_kept(where: object, exc: BaseException, ring: KeyRing) -> None:
    logger.warning(
        "could not load keys from %s (%s); keeping the last good set, kids %s",
        where,
        describe(exc),
        kids(ring),
    )


def describe(exc: BaseException) -> str:
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


def kids(ring: KeyRing) -> list[str]:
    return sorted(key.kid for key in ring)
