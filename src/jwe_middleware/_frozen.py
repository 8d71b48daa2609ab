"""Read-only JSON values for the claims of a validated token.

A cached token's claims are handed to every request that presents it, so a
route that changed a nested list or object would change what later requests
see. JSON objects and arrays inside the claims are therefore ``dict`` and
``list`` subclasses whose mutating methods raise ``TypeError``: they still
compare equal to plain values, pass ``isinstance`` checks, and serialise with
``json`` and pydantic as before. ``thaw`` turns them back into plain,
mutable values.
"""

from __future__ import annotations

from typing import Any, NoReturn

__all__ = ["freeze", "thaw"]


def _refuse(self: object, *args: object, **kwargs: object) -> NoReturn:
    raise TypeError("token claims are read-only; use Claims.to_dict() for a copy")


class FrozenDict(dict[str, Any]):
    """A JSON object from a token."""

    __slots__ = ()
    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self) -> tuple[Any, ...]:
        # copy and pickle rebuild from a plain dict, never through __setitem__.
        return (FrozenDict, (dict(self),))


class FrozenList(list[Any]):
    """A JSON array from a token."""

    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = remove = pop = clear = sort = reverse = _refuse

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenList, (list(self),))


def freeze(value: Any) -> Any:
    """``value`` with every JSON object and array in it made read-only."""
    if isinstance(value, dict):
        return FrozenDict({key: freeze(item) for key, item in value.items()})
    if isinstance(value, list):
        return FrozenList([freeze(item) for item in value])
    return value


def thaw(value: Any) -> Any:
    """A plain, mutable deep copy of a frozen value."""
    if isinstance(value, dict):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, list):
        return [thaw(item) for item in value]
    return value
