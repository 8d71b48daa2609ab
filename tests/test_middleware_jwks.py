"""The middleware with verification keys from a real HTTPS JWKS endpoint.

The endpoint is uvicorn over TLS on 127.0.0.1 (``tests._jwks``); every
request goes through the whole ASGI app, so these tests show what the
source tests alone cannot: requests never cause fetches, a rotated signing
key is picked up by the request that first names it, a flood of unknown
kids costs one fetch per cooldown, and a token naming its own key source
(``jku``, ``x5u``, ``jwk``, ``x5c``) causes no fetch at all.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
import time
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from jwe_middleware import JWEMiddleware, Key, KeyRing, TokenIssuer, TokenMetrics, generate_key
from jwe_middleware.sources import RemoteJWKS

from ._jwks import JWKSEndpoint
from ._tls import TLSFiles
from .attacks._forge import DROP, jwe, jws

COOLDOWN = 30.0
MAX_AGE = 300.0
REQUESTS = 20


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def secret() -> Key:
    return generate_key("dir", kid="dir-1")


async def whoami(request: Request) -> JSONResponse:
    return JSONResponse({"sub": request.state.claims["sub"]})


class Service:
    """The app under test, its key source, and a client in the same event loop."""

    def __init__(self, source: RemoteJWKS, secret: Key) -> None:
        self.metrics = TokenMetrics()
        app = Starlette(routes=[Route("/me", whoami)])
        app.add_middleware(
            JWEMiddleware,
            decryption_keys=KeyRing([secret]),
            verification_keys=source,
            on_event=self.metrics,
        )
        transport = httpx.ASGITransport(app=app)
        self.client = httpx.AsyncClient(transport=transport, base_url="https://api.test")
        self.secret = secret

    def token(self, signer: Key, sub: str) -> str:
        issuer = TokenIssuer(encryption_key=self.secret, signing_key=signer)
        return issuer.issue({"sub": sub})

    async def statuses(self, signer: Key, count: int = REQUESTS) -> list[int]:
        # Distinct tokens: the cache cannot hide a fetch.
        tokens = [self.token(signer, f"user-{index}") for index in range(count)]
        answers = [await self.client.get("/me", headers=_bearer(t)) for t in tokens]
        return [answer.status_code for answer in answers]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _shape(response: httpx.Response) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    return response.status_code, list(response.headers.raw), response.content


def _source(url: str, tls: TLSFiles, clock: FakeClock) -> RemoteJWKS:
    return RemoteJWKS(
        url, max_age=MAX_AGE, refresh_cooldown=COOLDOWN, verify=tls.client_context(), clock=clock
    )


def _run(scenario: Any) -> None:
    asyncio.run(scenario())


def test_requests_never_fetch_the_jwks(
    endpoint: JWKSEndpoint, server: tuple[JWKSEndpoint, str], tls: TLSFiles, secret: Key
) -> None:
    signer = generate_key("ES256", kid="sig-a")
    endpoint.publish(signer)

    async def scenario() -> None:
        service = Service(await _source(server[1], tls, FakeClock()).load(), secret)
        assert await service.statuses(signer) == [200] * REQUESTS
        assert endpoint.hits == 1

    _run(scenario)


def test_rotated_signing_key_accepted_after_one_fetch(
    endpoint: JWKSEndpoint, server: tuple[JWKSEndpoint, str], tls: TLSFiles, secret: Key
) -> None:
    old, new = generate_key("ES256", kid="sig-old"), generate_key("ES256", kid="sig-new")
    endpoint.publish(old)
    clock = FakeClock()

    async def scenario() -> None:
        service = Service(await _source(server[1], tls, clock).load(), secret)
        assert await service.statuses(old, 1) == [200]

        endpoint.publish(old, new)
        clock.now += COOLDOWN
        assert await service.statuses(new) == [200] * REQUESTS
        assert endpoint.hits == 2
        assert await service.statuses(old, 1) == [200]

    _run(scenario)


def test_unknown_kid_flood_costs_one_fetch_per_cooldown(
    endpoint: JWKSEndpoint, server: tuple[JWKSEndpoint, str], tls: TLSFiles, secret: Key
) -> None:
    published, stranger = generate_key("ES256", kid="sig-a"), generate_key("ES256", kid="ghost")
    endpoint.publish(published)
    clock = FakeClock()

    async def scenario() -> None:
        service = Service(await _source(server[1], tls, clock).load(), secret)
        clock.now += COOLDOWN
        assert await service.statuses(stranger) == [401] * REQUESTS
        assert endpoint.hits == 2
        assert service.metrics.snapshot()["rejected"] == {"unknown_key": REQUESTS}

        clock.now += COOLDOWN
        assert await service.statuses(stranger) == [401] * REQUESTS
        assert endpoint.hits == 3

    _run(scenario)


def test_stale_set_refreshed_in_background_while_requests_pass(
    endpoint: JWKSEndpoint, server: tuple[JWKSEndpoint, str], tls: TLSFiles, secret: Key
) -> None:
    signer = generate_key("ES256", kid="sig-a")
    endpoint.publish(signer)
    clock = FakeClock()

    async def scenario() -> None:
        source = await _source(server[1], tls, clock).load()
        service = Service(source, secret)
        endpoint.status = 500
        clock.now += MAX_AGE
        assert source.stale
        # The endpoint is down and the set is stale: the last good keys serve.
        assert await service.statuses(signer) == [200] * REQUESTS
        for _ in range(200):
            if endpoint.hits >= 2:
                break
            await asyncio.sleep(0.01)
        assert endpoint.hits == 2

    _run(scenario)


KEY_REFERENCES = ["jku", "x5u", "jwk", "x5c"]


def _reference(member: str, url: str, tls: TLSFiles, stranger: Key) -> Any:
    # jku and x5u name the test server itself, so a fetch of either would
    # show in its counter like a key refresh would.
    if member in ("jku", "x5u"):
        return url
    if member == "jwk":
        return stranger.public_jwk()
    der = ssl.PEM_cert_to_DER_cert(tls.cert_pem.read_text())
    return [base64.b64encode(der).decode("ascii")]  # RFC 7515 section 4.1.6


def _token_naming(secret: Key, stranger: Key, where: str, member: str, value: Any) -> str:
    """A dir token signed by a key the JWKS does not publish; ``member`` goes
    into the outer or the inner header, and ``DROP`` leaves it out."""
    inner = {member: value} if where == "inner" else {}
    outer = {member: value} if where == "outer" else {}
    claims = {"sub": "mallory", "exp": int(time.time()) + 600}
    signed = jws(claims, key=stranger, header=inner)
    header = {"alg": "dir", "enc": "A256GCM", "kid": secret.kid, "cty": "JWT", **outer}
    return jwe(signed.encode(), header, key=secret).compact


@pytest.mark.parametrize("member", KEY_REFERENCES)
@pytest.mark.parametrize("where", ["outer", "inner"])
def test_key_reference_header_refused_without_any_fetch(
    where: str,
    member: str,
    endpoint: JWKSEndpoint,
    server: tuple[JWKSEndpoint, str],
    tls: TLSFiles,
    secret: Key,
) -> None:
    # RFC 8725 sections 2.9 and 3.10: a header naming where to fetch a key,
    # or carrying one, must not make the service fetch, neither from the
    # named URL nor from its own JWKS as it would for an unknown kid.
    endpoint.publish(generate_key("ES256", kid="sig-a"))
    stranger = generate_key("ES256", kid="ghost")
    clock = FakeClock()
    value = _reference(member, server[1], tls, stranger)

    async def scenario() -> None:
        service = Service(await _source(server[1], tls, clock).load(), secret)
        canonical = _shape(await service.client.get("/me", headers=_bearer("a.b.c.d.e")))
        # Past the cooldown, an unknown kid alone would refresh the set.
        clock.now += COOLDOWN

        hostile = _token_naming(secret, stranger, where, member, value)
        assert _shape(await service.client.get("/me", headers=_bearer(hostile))) == canonical
        assert endpoint.hits == 1
        assert service.metrics.snapshot()["rejected"]["unsupported_header"] == 1

        # The same token without the member does refresh: the count above
        # was free to move.
        plain = _token_naming(secret, stranger, where, member, DROP)
        assert _shape(await service.client.get("/me", headers=_bearer(plain))) == canonical
        assert endpoint.hits == 2

    _run(scenario)
