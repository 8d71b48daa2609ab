"""End to end: the example app under uvicorn with TLS on 127.0.0.1."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import httpx
import pytest

from tests._servers import RunningApp, example_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    with example_server(tmp_path_factory.mktemp("dev")) as running:
        yield running


def _client(server: RunningApp) -> httpx.Client:
    # Verify against the certificate the app generated: no verify=False.
    context = ssl.create_default_context(cafile=str(server.cert))
    return httpx.Client(base_url=server.url, verify=context, timeout=10)


def test_e2e_login_me_orders_over_verified_tls(server: RunningApp) -> None:
    with _client(server) as client:
        login = client.post("/token", data={"username": "alice", "password": "alice-demo"})
        assert login.status_code == 200
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        assert client.get("/me", headers=headers).json()["sub"] == "alice"
        assert client.get("/orders", headers=headers).status_code == 200
        assert "strict-transport-security" in client.get("/health").headers


def test_e2e_bob_lacks_orders_scope(server: RunningApp) -> None:
    with _client(server) as client:
        login = client.post("/token", data={"username": "bob", "password": "bob-demo"})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        assert client.get("/orders", headers=headers).status_code == 403


def test_e2e_invalid_token_is_401_never_500(server: RunningApp) -> None:
    with _client(server) as client:
        for value in ("garbage", "a.b.c.d.e", "A" * 10_000):
            response = client.get("/me", headers={"Authorization": f"Bearer {value}"})
            assert response.status_code in (400, 401)


def test_e2e_untrusted_certificate_is_refused(server: RunningApp) -> None:
    with httpx.Client(base_url=server.url, timeout=5) as client:
        with pytest.raises(httpx.ConnectError):
            client.get("/health")
