from __future__ import annotations

import gc
import math
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from jwe_middleware._cache import TokenCache
from jwe_middleware.claims import Claims
from jwe_middleware.decoder import DecodedToken

NOW = 1_700_000_000.0
KEYS_V1 = ("ring-1",)
KEYS_V2 = ("ring-2",)


class FrozenClock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def decoded(*, exp: float | None = NOW + 900, jti: str = "id-1") -> DecodedToken:
    claims: dict[str, Any] = {"sub": "alice", "jti": jti, "iat": NOW}
    if exp is not None:
        claims["exp"] = exp
    return DecodedToken(Claims(claims), "enc-1", "sig-1")


def token(index: int) -> str:
    # Shaped like a compact JWE, so that a leak would be recognisable.
    return f"eyJhbGciOiJkaXIifQ..aXY{index:04d}.Y2lwaGVy{index:04d}.dGFn{index:04d}"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def cache(clock: FrozenClock) -> TokenCache:
    return TokenCache(max_entries=100, max_age=300.0, clock=clock)


def test_get_after_put_hits(cache: TokenCache) -> None:
    value = decoded()
    cache.put(token(1), value, KEYS_V1)
    assert cache.get(token(1), KEYS_V1) is value


def test_get_str_or_bytes_same_token_hits(cache: TokenCache) -> None:
    value = decoded()
    cache.put(token(1), value, KEYS_V1)
    assert cache.get(token(1).encode("ascii"), KEYS_V1) is value


def test_get_unknown_token_misses(cache: TokenCache) -> None:
    cache.put(token(1), decoded(), KEYS_V1)
    assert cache.get(token(2), KEYS_V1) is None


def test_get_malformed_string_misses_without_error(cache: TokenCache) -> None:
    assert cache.get("caf\u00e9\udc80", KEYS_V1) is None


def test_get_at_exp_misses_and_drops_entry(cache: TokenCache, clock: FrozenClock) -> None:
    cache.put(token(1), decoded(exp=NOW + 100), KEYS_V1)
    clock.now = NOW + 99.999
    assert cache.get(token(1), KEYS_V1) is not None
    clock.now = NOW + 100
    assert cache.get(token(1), KEYS_V1) is None
    assert len(cache) == 0


def test_get_after_max_age_misses_before_exp(cache: TokenCache, clock: FrozenClock) -> None:
    cache.put(token(1), decoded(exp=NOW + 3600), KEYS_V1)
    clock.now = NOW + 299.999
    assert cache.get(token(1), KEYS_V1) is not None
    clock.now = NOW + 300
    assert cache.get(token(1), KEYS_V1) is None


def test_get_token_without_exp_lives_max_age(cache: TokenCache, clock: FrozenClock) -> None:
    cache.put(token(1), decoded(exp=None), KEYS_V1)
    clock.now = NOW + 299
    assert cache.get(token(1), KEYS_V1) is not None
    clock.now = NOW + 300
    assert cache.get(token(1), KEYS_V1) is None


def test_put_expired_token_is_not_stored(cache: TokenCache) -> None:
    # Within the decoder's leeway a token can pass at exp; it is not cached.
    cache.put(token(1), decoded(exp=NOW), KEYS_V1)
    assert len(cache) == 0


def test_max_age_counts_from_insertion(cache: TokenCache, clock: FrozenClock) -> None:
    clock.now = NOW + 500
    cache.put(token(1), decoded(exp=NOW + 3600), KEYS_V1)
    clock.now = NOW + 799
    assert cache.get(token(1), KEYS_V1) is not None


def test_put_over_capacity_evicts_least_recently_used(clock: FrozenClock) -> None:
    cache = TokenCache(max_entries=3, clock=clock)
    for index in (1, 2, 3):
        cache.put(token(index), decoded(jti=str(index)), KEYS_V1)
    assert cache.get(token(1), KEYS_V1) is not None
    cache.put(token(4), decoded(jti="4"), KEYS_V1)
    assert cache.get(token(2), KEYS_V1) is None
    assert all(cache.get(token(index), KEYS_V1) is not None for index in (1, 3, 4))


def test_put_same_token_again_refreshes_recency(clock: FrozenClock) -> None:
    cache = TokenCache(max_entries=2, clock=clock)
    cache.put(token(1), decoded(), KEYS_V1)
    cache.put(token(2), decoded(), KEYS_V1)
    cache.put(token(1), decoded(), KEYS_V1)
    cache.put(token(3), decoded(), KEYS_V1)
    assert cache.get(token(1), KEYS_V1) is not None
    assert cache.get(token(2), KEYS_V1) is None


def test_get_other_key_version_misses_and_drops_entry(cache: TokenCache) -> None:
    cache.put(token(1), decoded(), KEYS_V1)
    assert cache.get(token(1), KEYS_V2) is None
    assert cache.get(token(1), KEYS_V1) is None
    assert len(cache) == 0


def test_get_equal_key_version_hits(cache: TokenCache) -> None:
    ring = object()
    cache.put(token(1), decoded(), (ring, None))
    # The middleware builds a fresh tuple of the same rings per request.
    assert cache.get(token(1), (ring, None)) is not None
    assert cache.get(token(1), (object(), None)) is None


def test_disabled_cache_stores_nothing(clock: FrozenClock) -> None:
    cache = TokenCache(max_entries=0, clock=clock)
    cache.put(token(1), decoded(), KEYS_V1)
    assert not cache.enabled
    assert len(cache) == 0
    assert cache.get(token(1), KEYS_V1) is None


def test_disabled_cache_digest_is_none_and_ignored(clock: FrozenClock) -> None:
    cache = TokenCache(max_entries=0, clock=clock)
    assert cache.digest(token(1)) is None
    cache.store(None, decoded(), KEYS_V1)
    assert cache.lookup(None, KEYS_V1) is None
    assert len(cache) == 0


def test_store_then_lookup_by_one_digest_matches_get(cache: TokenCache) -> None:
    value = decoded()
    digest = cache.digest(token(1))
    assert cache.lookup(digest, KEYS_V1) is None
    cache.store(digest, value, KEYS_V1)
    assert cache.lookup(digest, KEYS_V1) is value
    assert cache.get(token(1), KEYS_V1) is value
    assert digest == cache.digest(token(1).encode("ascii"))


def test_enabled_by_default() -> None:
    assert TokenCache().enabled


def test_clear_empties_cache(cache: TokenCache) -> None:
    cache.put(token(1), decoded(), KEYS_V1)
    cache.clear()
    assert len(cache) == 0
    assert cache.get(token(1), KEYS_V1) is None


@pytest.mark.parametrize(
    "options",
    [
        {"max_entries": -1},
        {"max_entries": True},
        {"max_entries": 1.5},
        {"max_age": 0},
        {"max_age": -1.0},
        {"max_age": math.inf},
        {"max_age": math.nan},
        {"max_age": "300"},
    ],
)
def test_init_bad_option_raises_value_error(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        TokenCache(**options)


def test_put_many_length_never_exceeds_max_entries(clock: FrozenClock) -> None:
    cache = TokenCache(max_entries=50, clock=clock)
    for index in range(1000):
        cache.put(token(index), decoded(), KEYS_V1)
        assert len(cache) <= 50
    assert len(cache) == 50


def test_concurrent_get_put_stays_bounded_and_consistent(clock: FrozenClock) -> None:
    cache = TokenCache(max_entries=64, clock=clock)
    values = [decoded(jti=str(index)) for index in range(256)]
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def hammer(offset: int) -> None:
        try:
            start.wait()
            for step in range(3000):
                index = (offset * 31 + step * 7) % len(values)
                cache.put(token(index), values[index], KEYS_V1)
                hit = cache.get(token((index + offset) % len(values)), KEYS_V1)
                assert hit is None or hit is values[(index + offset) % len(values)]
                assert len(cache) <= 64
        except BaseException as exc:  # surfaced in the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(offset,)) for offset in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert len(cache) <= 64


def _reachable(root: object) -> Iterator[object]:
    """Every object reachable from ``root`` through containers and instances."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        item = stack.pop()
        if id(item) in seen or isinstance(item, type):
            continue
        seen.add(id(item))
        yield item
        stack.extend(gc.get_referents(item))


def test_cache_never_keeps_the_token(cache: TokenCache) -> None:
    for index in range(10):
        cache.put(token(index), decoded(jti=str(index)), KEYS_V1)
    cache.put(token(10).encode("ascii"), decoded(jti="10"), KEYS_V1)
    tokens = [token(index) for index in range(11)]
    texts = [
        item.decode("latin-1") if isinstance(item, bytes) else item
        for item in _reachable(cache._entries)
        if isinstance(item, str | bytes)
    ]
    # The walk does reach the stored claims, so it would reach a token too.
    assert "alice" in texts
    assert not any(stored in text for text in texts for stored in tokens)
