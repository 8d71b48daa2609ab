# The Redis fixtures are imported by name and then taken as parameters of
# that same name, which pyflakes reads as a redefinition.
# ruff: noqa: F811

from __future__ import annotations

import asyncio
import math
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from functools import partial
from typing import Any

import httpx
import pytest
import redis.asyncio
import redis.exceptions
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from jwe_middleware import JWEMiddleware
from jwe_middleware._errors import RevocationUnavailable
from jwe_middleware.revocation import (
    MemoryRevocationStore,
    RedisRevocationStore,
    RevocationStore,
)
from tests._helpers import bearer, decoder_options, token
from tests._redis import RedisServer, free_port, fresh_redis_server, redis_server  # noqa: F401

HOUR = 3600.0
# Fail-closed answers must come within about the store's timeout (0.5 s by
# default, one immediate retry); this bound leaves room for a slow runner.
FAIL_FAST_SECONDS = 2.0

Scenario = Callable[[RevocationStore], Awaitable[Any]]
StoreFactory = Callable[[], RevocationStore]


class FrozenClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def new_jti() -> str:
    return uuid.uuid4().hex


def unique_prefix() -> str:
    # The session server is shared: a prefix per test keeps tests apart.
    return f"test:{uuid.uuid4().hex}:"


def run(store_factory: StoreFactory, scenario: Scenario) -> Any:
    """Run ``scenario`` in a fresh event loop, closing a Redis store after."""

    async def main() -> Any:
        store = store_factory()
        try:
            return await scenario(store)
        finally:
            if isinstance(store, RedisRevocationStore):
                await store.aclose()

    return asyncio.run(main())


@pytest.fixture(params=["memory", "redis"])
def any_store(request: pytest.FixtureRequest) -> Iterator[StoreFactory]:
    """A factory for each store kind, so shared rules run against both."""
    if request.param == "memory":
        yield MemoryRevocationStore
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    prefix = unique_prefix()
    yield partial(RedisRevocationStore.from_url, server.url, prefix=prefix)


# Rules every store keeps


def test_store_revoked_jti_is_revoked(any_store: StoreFactory) -> None:
    jti = new_jti()

    async def scenario(store: RevocationStore) -> bool:
        await store.revoke(jti, time.time() + HOUR)
        return await store.is_revoked(jti)

    assert run(any_store, scenario) is True


def test_store_unknown_jti_is_not_revoked(any_store: StoreFactory) -> None:
    async def scenario(store: RevocationStore) -> bool:
        await store.revoke(new_jti(), time.time() + HOUR)
        return await store.is_revoked(new_jti())

    assert run(any_store, scenario) is False


def test_store_until_in_past_is_noop(any_store: StoreFactory) -> None:
    jti = new_jti()

    async def scenario(store: RevocationStore) -> bool:
        await store.revoke(jti, time.time() - 1)
        return await store.is_revoked(jti)

    assert run(any_store, scenario) is False


def test_store_max_length_jti_is_accepted(any_store: StoreFactory) -> None:
    jti = "j" * 256

    async def scenario(store: RevocationStore) -> bool:
        await store.revoke(jti, time.time() + HOUR)
        return await store.is_revoked(jti)

    assert run(any_store, scenario) is True


BAD_JTIS = [
    pytest.param("", id="empty"),
    pytest.param("j" * 257, id="too-long"),
    pytest.param("a\nb", id="newline"),
    pytest.param("a\x00b", id="nul"),
    pytest.param("a\x7fb", id="del"),
    pytest.param("a\x85b", id="c1-control"),
    pytest.param(None, id="none"),
    pytest.param(b"abc", id="bytes"),
    pytest.param(42, id="int"),
]


@pytest.mark.parametrize("jti", BAD_JTIS)
def test_store_revoke_bad_jti_raises_value_error(any_store: StoreFactory, jti: Any) -> None:
    async def scenario(store: RevocationStore) -> None:
        await store.revoke(jti, time.time() + HOUR)

    with pytest.raises(ValueError, match="jti"):
        run(any_store, scenario)


@pytest.mark.parametrize("jti", BAD_JTIS)
def test_store_is_revoked_bad_jti_raises_value_error(
    any_store: StoreFactory, jti: Any
) -> None:
    async def scenario(store: RevocationStore) -> None:
        await store.is_revoked(jti)

    with pytest.raises(ValueError, match="jti"):
        run(any_store, scenario)


@pytest.mark.parametrize("until", [math.nan, math.inf, -math.inf])
def test_store_non_finite_until_raises_value_error(
    any_store: StoreFactory, until: float
) -> None:
    async def scenario(store: RevocationStore) -> None:
        await store.revoke(new_jti(), until)

    with pytest.raises(ValueError, match="until"):
        run(any_store, scenario)


def test_store_instances_satisfy_protocol(redis_server: RedisServer) -> None:
    async def scenario(store: RevocationStore) -> bool:
        return isinstance(store, RevocationStore)

    assert run(MemoryRevocationStore, scenario)
    assert run(partial(RedisRevocationStore.from_url, redis_server.url), scenario)


# MemoryRevocationStore


def test_memory_store_entry_passes_until_expires() -> None:
    clock = FrozenClock()
    store = MemoryRevocationStore(clock=clock)
    jti = new_jti()

    async def scenario() -> list[bool]:
        await store.revoke(jti, clock.now + 60)
        seen = [await store.is_revoked(jti)]
        clock.now += 59.5
        seen.append(await store.is_revoked(jti))
        clock.now += 0.5
        seen.append(await store.is_revoked(jti))
        return seen

    assert asyncio.run(scenario()) == [True, True, False]
    assert len(store) == 0


def test_memory_store_full_evicts_nearest_expiry_first() -> None:
    clock = FrozenClock()
    store = MemoryRevocationStore(max_entries=3, clock=clock)

    async def scenario() -> dict[str, bool]:
        for jti, lifetime in [("late", 300), ("soon", 100), ("mid", 200)]:
            await store.revoke(jti, clock.now + lifetime)
        await store.revoke("latest", clock.now + 400)
        return {jti: await store.is_revoked(jti) for jti in ["soon", "mid", "late", "latest"]}

    assert asyncio.run(scenario()) == {"soon": False, "mid": True, "late": True, "latest": True}
    assert len(store) == 3


def test_memory_store_full_new_entry_nearest_expiry_is_evicted() -> None:
    clock = FrozenClock()
    store = MemoryRevocationStore(max_entries=2, clock=clock)

    async def scenario() -> dict[str, bool]:
        await store.revoke("a", clock.now + 200)
        await store.revoke("b", clock.now + 300)
        await store.revoke("brief", clock.now + 100)
        return {jti: await store.is_revoked(jti) for jti in ["a", "b", "brief"]}

    assert asyncio.run(scenario()) == {"a": True, "b": True, "brief": False}


def test_memory_store_full_of_expired_purges_instead_of_evicting(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FrozenClock()
    store = MemoryRevocationStore(max_entries=2, clock=clock)

    async def scenario() -> bool:
        await store.revoke("old-1", clock.now + 10)
        await store.revoke("old-2", clock.now + 10)
        clock.now += 20
        await store.revoke("new", clock.now + 10)
        return await store.is_revoked("new")

    assert asyncio.run(scenario()) is True
    assert len(store) == 1
    assert "store full" not in caplog.text


def test_memory_store_eviction_logs_warning_without_jti(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FrozenClock()
    store = MemoryRevocationStore(max_entries=1, clock=clock)
    jti = new_jti()

    async def scenario() -> None:
        await store.revoke(jti, clock.now + 10)
        await store.revoke(new_jti(), clock.now + 20)

    asyncio.run(scenario())
    assert "store full" in caplog.text
    assert jti not in caplog.text


def test_memory_store_revoked_again_keeps_later_until() -> None:
    clock = FrozenClock()
    store = MemoryRevocationStore(clock=clock)

    async def scenario() -> list[bool]:
        await store.revoke("j", clock.now + 100)
        await store.revoke("j", clock.now + 10)
        clock.now += 50
        seen = [await store.is_revoked("j")]
        await store.revoke("j", clock.now + 100)
        clock.now += 99
        seen.append(await store.is_revoked("j"))
        return seen

    assert asyncio.run(scenario()) == [True, True]
    assert len(store) == 1


def test_memory_store_many_rerevocations_keep_heap_bounded() -> None:
    clock = FrozenClock()
    store = MemoryRevocationStore(clock=clock)

    async def scenario() -> None:
        for step in range(1, 1001):
            await store.revoke("j", clock.now + step)

    asyncio.run(scenario())
    assert len(store) == 1
    assert len(store._by_expiry) <= 2 * len(store) + 64


@pytest.mark.parametrize(
    ("max_entries", "error"),
    [(0, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError)],
)
def test_memory_store_bad_max_entries_raises(max_entries: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="max_entries"):
        MemoryRevocationStore(max_entries=max_entries)


def test_memory_store_concurrent_tasks_respect_bound() -> None:
    clock = FrozenClock()
    store = MemoryRevocationStore(max_entries=50, clock=clock)

    async def scenario() -> None:
        await asyncio.gather(*(store.revoke(str(i), clock.now + i + 1) for i in range(200)))

    asyncio.run(scenario())
    assert len(store) == 50
    assert asyncio.run(store.is_revoked("199")) is True
    assert asyncio.run(store.is_revoked("149")) is False


def test_memory_store_event_loops_in_threads_lose_no_entry() -> None:
    store = MemoryRevocationStore()
    until = time.time() + HOUR

    def worker(offset: int) -> None:
        async def revoke_many() -> None:
            for i in range(500):
                await store.revoke(f"{offset}-{i}", until)

        asyncio.run(revoke_many())

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store) == 2000


def test_memory_store_repr_shows_size_only() -> None:
    store = MemoryRevocationStore(max_entries=10)
    asyncio.run(store.revoke("secret-jti", time.time() + HOUR))
    assert repr(store) == "MemoryRevocationStore(entries=1, max_entries=10)"


# RedisRevocationStore


def test_redis_store_revoke_writes_prefixed_key_expiring_at_until(
    redis_server: RedisServer,
) -> None:
    prefix, jti = unique_prefix(), new_jti()
    until = time.time() + HOUR + 0.0001

    async def scenario() -> tuple[int, int]:
        store = RedisRevocationStore.from_url(redis_server.url, prefix=prefix)
        raw = redis.asyncio.Redis.from_url(redis_server.url)
        try:
            await store.revoke(jti, until)
            return await raw.exists(prefix + jti), await raw.pexpiretime(prefix + jti)
        finally:
            await raw.aclose()
            await store.aclose()

    found, expires_at_ms = asyncio.run(scenario())
    assert found == 1
    assert expires_at_ms == math.ceil(until * 1000)


def test_redis_store_entry_passes_until_expires(redis_server: RedisServer) -> None:
    jti = new_jti()

    async def scenario(store: RevocationStore) -> list[bool]:
        until = time.time() + 0.4
        await store.revoke(jti, until)
        seen = [await store.is_revoked(jti)]
        await asyncio.sleep(until - time.time() + 0.05)
        seen.append(await store.is_revoked(jti))
        return seen

    factory = partial(RedisRevocationStore.from_url, redis_server.url)
    assert run(factory, scenario) == [True, False]


def test_redis_store_until_past_by_injected_clock_is_noop(
    redis_server: RedisServer,
) -> None:
    clock = FrozenClock(time.time() + 2 * HOUR)
    jti = new_jti()

    async def scenario(store: RevocationStore) -> bool:
        await store.revoke(jti, time.time() + HOUR)
        return await store.is_revoked(jti)

    factory = partial(RedisRevocationStore.from_url, redis_server.url, clock=clock)
    assert run(factory, scenario) is False


def test_redis_store_two_clients_see_each_others_revocations(
    redis_server: RedisServer,
) -> None:
    prefix, first_jti, second_jti = unique_prefix(), new_jti(), new_jti()

    async def scenario() -> tuple[bool, bool]:
        first = RedisRevocationStore.from_url(redis_server.url, prefix=prefix)
        second = RedisRevocationStore.from_url(redis_server.url, prefix=prefix)
        try:
            await first.revoke(first_jti, time.time() + HOUR)
            await second.revoke(second_jti, time.time() + HOUR)
            return await second.is_revoked(first_jti), await first.is_revoked(second_jti)
        finally:
            await first.aclose()
            await second.aclose()

    assert asyncio.run(scenario()) == (True, True)


def test_redis_store_other_prefix_does_not_see_revocation(
    redis_server: RedisServer,
) -> None:
    jti = new_jti()

    async def scenario() -> bool:
        first = RedisRevocationStore.from_url(redis_server.url, prefix=unique_prefix())
        second = RedisRevocationStore.from_url(redis_server.url, prefix=unique_prefix())
        try:
            await first.revoke(jti, time.time() + HOUR)
            return await second.is_revoked(jti)
        finally:
            await first.aclose()
            await second.aclose()

    assert asyncio.run(scenario()) is False


def test_redis_store_server_stopped_mid_run_fails_closed(
    fresh_redis_server: RedisServer,
) -> None:
    jti = new_jti()

    async def scenario() -> tuple[RevocationUnavailable, float]:
        store = RedisRevocationStore.from_url(fresh_redis_server.url, timeout=0.5)
        try:
            await store.revoke(jti, time.time() + HOUR)
            assert await store.is_revoked(jti) is True
            fresh_redis_server.stop()
            started = time.monotonic()
            with pytest.raises(RevocationUnavailable) as caught:
                await store.is_revoked(jti)
            return caught.value, time.monotonic() - started
        finally:
            await store.aclose()

    error, elapsed = asyncio.run(scenario())
    assert elapsed < FAIL_FAST_SECONDS
    assert error.code == "revocation_unavailable"
    assert error.__cause__ is not None
    assert jti not in str(error)


def test_redis_store_server_stopped_revoke_fails_closed(
    fresh_redis_server: RedisServer,
) -> None:
    jti = new_jti()

    async def scenario(store: RevocationStore) -> None:
        await store.is_revoked(new_jti())
        fresh_redis_server.stop()
        await store.revoke(jti, time.time() + HOUR)

    factory = partial(RedisRevocationStore.from_url, fresh_redis_server.url)
    with pytest.raises(RevocationUnavailable) as caught:
        run(factory, scenario)
    assert jti not in str(caught.value)


@pytest.mark.parametrize("operation", ["revoke", "is_revoked"])
def test_redis_store_closed_port_raises_unavailable_fast(operation: str) -> None:
    jti = new_jti()
    url = f"redis://127.0.0.1:{free_port()}/0"

    async def scenario(store: RevocationStore) -> None:
        if operation == "revoke":
            await store.revoke(jti, time.time() + HOUR)
        else:
            await store.is_revoked(jti)

    started = time.monotonic()
    with pytest.raises(RevocationUnavailable) as caught:
        run(partial(RedisRevocationStore.from_url, url, timeout=0.5), scenario)
    assert time.monotonic() - started < FAIL_FAST_SECONDS
    assert isinstance(caught.value.__cause__, (redis.exceptions.RedisError, OSError))
    assert jti not in str(caught.value)


class FailingClient:
    """Stands in for a client whose every command fails with ``error``."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    async def set(self, *args: Any, **kwargs: Any) -> None:
        raise self.error

    async def exists(self, *args: Any) -> int:
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        redis.exceptions.ConnectionError("refused"),
        redis.exceptions.TimeoutError("slow"),
        redis.exceptions.ResponseError("WRONGTYPE"),
        OSError("unreachable"),
        TimeoutError("builtin"),
        asyncio.TimeoutError(),
    ],
    ids=lambda error: type(error).__qualname__,
)
def test_redis_store_any_client_error_raises_unavailable_chained(error: Exception) -> None:
    store = RedisRevocationStore(FailingClient(error))  # type: ignore[arg-type]
    for call in (store.revoke("j", time.time() + HOUR), store.is_revoked("j")):
        with pytest.raises(RevocationUnavailable) as caught:
            asyncio.run(call)
        assert caught.value.__cause__ is error


def test_redis_store_repr_hides_url_password() -> None:
    async def scenario() -> str:
        store = RedisRevocationStore.from_url(
            "redis://user:hunter2@127.0.0.1:6379/0", prefix="svc:revoked:"
        )
        try:
            return repr(store)
        finally:
            await store.aclose()

    text = asyncio.run(scenario())
    assert text == "RedisRevocationStore(prefix='svc:revoked:')"
    assert "hunter2" not in text


def test_redis_store_aclose_leaves_given_client_open(redis_server: RedisServer) -> None:
    async def scenario() -> bool:
        client = redis.asyncio.Redis.from_url(redis_server.url)
        try:
            await RedisRevocationStore(client).aclose()
            return bool(await client.ping())
        finally:
            await client.aclose()

    assert asyncio.run(scenario()) is True


@pytest.mark.parametrize("timeout", [0, -1.0])
def test_redis_store_from_url_bad_timeout_raises_value_error(timeout: float) -> None:
    with pytest.raises(ValueError, match="timeout"):
        RedisRevocationStore.from_url("redis://127.0.0.1:6379/0", timeout=timeout)


# The middleware's answer when a real Redis goes away


def _guarded_app(store: RevocationStore, mode: str) -> Starlette:
    async def me(request: Request) -> JSONResponse:
        return JSONResponse({"sub": request.state.claims["sub"]})

    app = Starlette(routes=[Route("/me", me)])
    app.add_middleware(
        JWEMiddleware, **decoder_options(), revocation=store, revocation_failure=mode
    )
    return app


@pytest.mark.parametrize(("mode", "expected"), [("closed", 503), ("open", 200)])
def test_middleware_redis_stopped_answers_by_failure_mode(
    fresh_redis_server: RedisServer, mode: str, expected: int
) -> None:
    async def scenario() -> tuple[int, int]:
        store = RedisRevocationStore.from_url(fresh_redis_server.url, prefix=unique_prefix())
        transport = httpx.ASGITransport(app=_guarded_app(store, mode))
        try:
            base = "https://api.test"
            async with httpx.AsyncClient(transport=transport, base_url=base) as client:
                headers = bearer(token())
                before = (await client.get("/me", headers=headers)).status_code
                fresh_redis_server.stop()
                after = (await client.get("/me", headers=headers)).status_code
                return before, after
        finally:
            await store.aclose()

    assert asyncio.run(scenario()) == (200, expected)
