"""Fixtures shared by the modules that talk to a real JWKS endpoint.

``server`` is uvicorn over TLS on 127.0.0.1 serving ``/jwks.json`` from a
``JWKSEndpoint`` (``tests._jwks``), one per test module; ``endpoint`` is
that endpoint, reset before and after each test; ``url`` is its address and
``tls`` the certificate files a client needs to trust it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from ._jwks import JWKSEndpoint, serve_https
from ._tls import TLSFiles, make_tls_files


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def server(tls: TLSFiles) -> Iterator[tuple[JWKSEndpoint, str]]:
    endpoint = JWKSEndpoint()
    app = Starlette(routes=[Route("/jwks.json", endpoint.handle)])
    with serve_https(app, tls) as base_url:
        yield endpoint, f"{base_url}/jwks.json"


@pytest.fixture
def endpoint(server: tuple[JWKSEndpoint, str]) -> Iterator[JWKSEndpoint]:
    server[0].reset()
    yield server[0]
    server[0].reset()


@pytest.fixture
def url(server: tuple[JWKSEndpoint, str]) -> str:
    return server[1]
