"""Several instances, one Redis: revocation is shared, and fails closed.

Two uvicorn processes of the example app (same development keys, TLS on
127.0.0.1) share a real redis-server started for the test.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests._redis import RedisServer, fresh_redis_server  # noqa: F401
from tests._servers import RunningApp, example_server

# ruff: noqa: F811  (pytest fixtures are parameters named like the import)


def _client(server: RunningApp) -> httpx.Client:
    context = ssl.create_default_context(cafile=str(server.cert))
    return httpx.Client(base_url=server.url, verify=context, timeout=10)


def _login(client: httpx.Client) -> dict[str, str]:
    response = client.post("/token", data={"username": "alice", "password": "alice-demo"})
    assert response.status_code == 200
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
def two_instances(
    fresh_redis_server: RedisServer, tmp_path: Path
) -> Iterator[tuple[RunningApp, RunningApp, RedisServer]]:
    env = {"REDIS_URL": fresh_redis_server.url}
    dev_dir = tmp_path / "dev"
    with example_server(dev_dir, env) as first, example_server(dev_dir, env) as second:
        yield first, second, fresh_redis_server


def test_scaleout_token_revoked_on_one_instance_refused_by_other(
    two_instances: tuple[RunningApp, RunningApp, RedisServer],
) -> None:
    first, second, _ = two_instances
    with _client(first) as one, _client(second) as two:
        headers = _login(one)
        assert two.get("/me", headers=headers).status_code == 200
        assert one.post("/logout", headers=headers).status_code == 200
        assert two.get("/me", headers=headers).status_code == 401
        assert one.get("/me", headers=headers).status_code == 401
        assert two.get("/me", headers=_login(two)).status_code == 200


def test_scaleout_redis_down_fails_closed_with_503(
    two_instances: tuple[RunningApp, RunningApp, RedisServer],
) -> None:
    first, _, redis = two_instances
    with _client(first) as client:
        headers = _login(client)
        assert client.get("/me", headers=headers).status_code == 200
        redis.stop()
        response = client.get("/me", headers=headers)
        assert response.status_code == 503
        assert response.json() == {"detail": "Authentication is temporarily unavailable"}
        assert client.get("/health").status_code == 200
