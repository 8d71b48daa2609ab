"""Keys, tokens and a tiny ASGI client shared by the middleware tests."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from functools import cache
from typing import Any

import httpx
from starlette.types import ASGIApp

from jwe_middleware import Key, KeyRing, TokenDecoder, TokenIssuer, generate_key

NOW = 1_800_000_000.0
ISSUER = "https://id.example.test"
AUDIENCE = "orders-api"


def frozen_clock() -> float:
    return NOW


@cache
def keys() -> dict[str, Key]:
    """One set of keys for the whole run: RSA generation is slow."""
    return {
        "enc": generate_key("RSA-OAEP-256", kid="enc-1"),
        "sig": generate_key("ES256", kid="sig-1"),
        "other_enc": generate_key("RSA-OAEP-256", kid="enc-1"),
        "dir": generate_key("dir", kid="dir-1"),
    }


def issuer(**overrides: Any) -> TokenIssuer:
    options: dict[str, Any] = {
        "encryption_key": keys()["enc"].public(),
        "signing_key": keys()["sig"],
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "lifetime": 600,
        "clock": frozen_clock,
    }
    options.update(overrides)
    return TokenIssuer(**options)


def token(claims: Mapping[str, Any] | None = None, **overrides: Any) -> str:
    default = {"sub": "alice", "email": "alice@example.org", "scope": "profile orders:read"}
    return issuer(**overrides).issue(default if claims is None else claims)


def decoder_options(**overrides: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "decryption_keys": KeyRing([keys()["enc"]]),
        "verification_keys": KeyRing([keys()["sig"].public()]),
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "clock": frozen_clock,
    }
    options.update(overrides)
    return options


def decoder(**overrides: Any) -> TokenDecoder:
    return TokenDecoder(**decoder_options(**overrides))


def request(
    app: ASGIApp,
    method: str,
    url: str,
    *,
    client: tuple[str, int] = ("203.0.113.7", 40000),
    **kwargs: Any,
) -> httpx.Response:
    """Send one request through the ASGI app, from a chosen peer address."""

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport) as http:
            return await http.request(method, url, **kwargs)

    return asyncio.run(send())


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}
