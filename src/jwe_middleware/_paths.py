"""Which request paths skip token checks.

A pattern is an exact path (``/health``) or an explicit prefix ending in
``/*`` (``/static/*`` covers ``/static/`` and everything below it, but neither
``/static`` nor ``/staticfoo``). There is no substring or glob matching: a
path that merely contains an exempt path must never become public.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

__all__ = ["PathMatcher"]

_PREFIX_MARK = "/*"


class PathMatcher:
    """Match request paths against exempt patterns, decided at construction."""

    __slots__ = ("_exact", "_prefixes", "_patterns")

    def __init__(self, patterns: Iterable[str]) -> None:
        # A lone string is iterable too, and would become one pattern per
        # character; refuse it rather than guess what was meant.
        if isinstance(patterns, (str, bytes)):
            raise TypeError("patterns must be an iterable of paths, not a single string")

        self._patterns = tuple(_checked(pattern) for pattern in patterns)
        self._exact = frozenset(p for p in self._patterns if not _is_prefix(p))
        self._prefixes = tuple(p[:-1] for p in self._patterns if _is_prefix(p))

    def matches(self, path: str) -> bool:
        """True when ``path`` is exempt.

        The path is compared exactly as received, with no normalisation:
        ``//health``, ``/health/`` and ``/HEALTH`` do not match ``/health``.
        The router sees the same raw string, so normalising here could exempt
        a spelling that routes somewhere else; an unmatched spelling only
        means the token is required (fail closed).
        """
        return path in self._exact or path.startswith(self._prefixes)

    def covers(self, pattern: str) -> bool:
        """True when every path that ``pattern`` matches is matched here too."""
        if _is_prefix(pattern):
            return pattern[:-1].startswith(self._prefixes)
        return self.matches(pattern)

    def __iter__(self) -> Iterator[str]:
        return iter(self._patterns)

    def __bool__(self) -> bool:
        return bool(self._patterns)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self._patterns)!r})"


def _is_prefix(pattern: str) -> bool:
    return pattern.endswith(_PREFIX_MARK)


def _checked(pattern: str) -> str:
    if not isinstance(pattern, str):
        raise TypeError(f"exempt path {pattern!r} is not a string")
    if not pattern.startswith("/"):
        raise ValueError(f"exempt path {pattern!r} must start with '/'")
    # "*" means "everything below" only as the final "/*"; anywhere else it
    # would look like a glob that this matcher does not implement.
    if "*" in pattern.removesuffix(_PREFIX_MARK):
        raise ValueError(f"exempt path {pattern!r} may use '*' only as a final '/*'")
    return pattern
