"""In-process ASGI throughput: each app called directly, no network, no server.

Run from the repository root::

    .venv/bin/python -m benchmarks.asgi            # the full table, about a minute
    .venv/bin/python -m benchmarks.asgi --quick    # a smoke run for CI, seconds

Each request is one ``await app(scope, receive, send)`` with a prebuilt
``https`` scope carrying ``Authorization: Bearer ...``, a ``receive`` that
hands over an empty body and a ``send`` that drops the response. All apps
share one route shape (see ``_apps``). A *cold* contender gets a fresh app
each round and sees every token of a pre-minted set exactly once, so our
cache never hits; a *warm* one cycles through 64 tokens its cache already
holds. The rivals have no cache and decode the cold tokens. Each figure is
the median over several rounds; contenders take turns within a round.

The *floor* row is a pure ASGI middleware that puts fixed claims on the
scope and checks nothing: the least any middleware that hands claims to the
route can cost. ``× floor`` shows how close a row comes to it.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jwt as pyjwt
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.types import ASGIApp, Message, Scope

from jwe_middleware import generate_key

from . import _apps
from ._tokens import AUDIENCE, ISSUER, Scenario, hs256_tokens, mint
from .decode import joserfc, jwcrypto_

__all__ = ["main"]

WARM_TOKENS = 64
HS256_SECRET = b"reference-secret-of-32-bytes-abc"


@dataclass(frozen=True)
class Settings:
    repeat: int
    round_seconds: float
    nested_tokens: int
    dir_tokens: int


FULL = Settings(repeat=5, round_seconds=0.5, nested_tokens=1_000, dir_tokens=8_000)
QUICK = Settings(repeat=3, round_seconds=0.03, nested_tokens=60, dir_tokens=300)


@dataclass
class Contender:
    """One row: how to build its app, and the tokens it is sent.

    A cold contender (``spare`` set) gets a fresh app each round, whose
    middleware stack is built by one request with ``spare``, a token outside
    ``tokens``; the round then sends each of ``tokens`` once.
    """

    name: str
    build: Callable[[], ASGIApp]
    tokens: Sequence[str]
    spare: str | None = None
    authenticates: bool = True
    app: ASGIApp | None = None
    requests: int = 0

    @property
    def cold(self) -> bool:
        return self.spare is not None


# The requests.


def scope_for(token: str) -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "https",
        "server": ("127.0.0.1", 8443),
        "client": ("127.0.0.1", 50000),
        "root_path": "",
        "path": _apps.PATH,
        "raw_path": _apps.PATH.encode("ascii"),
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:8443"),
            (b"accept", b"application/json"),
            (b"authorization", b"Bearer " + token.encode("ascii")),
        ],
    }


async def receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def drop(message: Message) -> None:
    return None


async def drive(app: ASGIApp, scopes: list[Scope]) -> float:
    """Requests per second over ``scopes``, sent one after the other."""
    gc.collect()
    start = time.perf_counter()
    for scope in scopes:
        await app(scope, receive, drop)
    return len(scopes) / (time.perf_counter() - start)


# Checking that every contender answers what it should.


async def answer(app: ASGIApp, token: str) -> tuple[int, bytes]:
    sent: list[Message] = []

    async def record(message: Message) -> None:
        sent.append(message)

    await app(scope_for(token), receive, record)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], body


async def check(contender: Contender) -> None:
    """Refuse to time an app that serves the wrong answer or takes a forged token."""
    app = contender.build()
    status, body = await answer(app, contender.tokens[0])
    if status != 200 or b'"sub"' not in body:
        raise SystemExit(f"{contender.name}: answered {status} {body[:80]!r}")
    if not contender.authenticates:
        return
    status, _ = await answer(app, tamper(contender.tokens[0]))
    if status != 401:
        raise SystemExit(f"{contender.name}: a tampered token got {status}, not 401")


def tamper(token: str) -> str:
    """Flip one character in the middle of the last segment (tag or signature)."""
    head, _, last = token.rpartition(".")
    middle = len(last) // 2
    flipped = "A" if last[middle] != "A" else "B"
    return f"{head}.{last[:middle]}{flipped}{last[middle + 1:]}"


# Timing.


async def prepare(contender: Contender, settings: Settings) -> None:
    """Warm the app up and decide how many requests one round sends."""
    if contender.cold:
        contender.requests = len(contender.tokens)
        return
    contender.app = contender.build()
    first = [scope_for(token) for token in contender.tokens]
    rate = await drive(contender.app, first)
    contender.requests = max(len(contender.tokens), int(settings.round_seconds * rate))


def scopes(contender: Contender) -> list[Scope]:
    tokens = contender.tokens
    return [scope_for(tokens[index % len(tokens)]) for index in range(contender.requests)]


async def one_round(contender: Contender) -> float:
    batch = scopes(contender)
    app = contender.app
    if contender.spare is not None:
        app = contender.build()
        await app(scope_for(contender.spare), receive, drop)
    assert app is not None
    return await drive(app, batch)


async def measure(contenders: list[Contender], settings: Settings) -> dict[str, float]:
    for contender in contenders:
        await check(contender)
        await prepare(contender, settings)
    samples: dict[str, list[float]] = {c.name: [] for c in contenders}
    for _ in range(settings.repeat):
        for contender in contenders:
            samples[contender.name].append(await one_round(contender))
    return {name: statistics.median(rates) for name, rates in samples.items()}


# The contenders.


def scenario(name: str, key_alg: str, signed: bool, count: int) -> Scenario:
    """``count`` distinct tokens, plus one spare for building cold apps."""
    decryption_key = generate_key(key_alg, kid=f"{key_alg.lower()}-1")
    signing_key = generate_key("ES256", kid="es256-1") if signed else None
    tokens = mint(decryption_key, signing_key, count + 1)
    return Scenario(name, decryption_key, signing_key, tokens)


def jwe_contenders(scenario: Scenario) -> list[Contender]:
    decoder = _apps.decoder_for(scenario)
    by_joserfc, by_jwcrypto = joserfc(scenario), jwcrypto_(scenario)
    spare, *cold = scenario.tokens
    label = scenario.name

    def build_ours() -> ASGIApp:
        return _apps.ours(decoder)

    return [
        Contender(f"ours warm, {label}", build_ours, cold[:WARM_TOKENS]),
        Contender(f"ours cold, {label}", build_ours, cold, spare),
        Contender(f"ours cold, cache off, {label}", lambda: _apps.ours(decoder, cache_size=0),
                  cold, spare),
        Contender(f"joserfc, {label}", lambda: _apps.rival(by_joserfc), cold, spare),
        Contender(f"jwcrypto, {label}", lambda: _apps.rival(by_jwcrypto), cold, spare),
    ]


def es256_tokens(key: ec.EllipticCurvePrivateKey, count: int) -> tuple[str, ...]:
    """Signed JWTs with the claims of ``hs256_tokens``, signed with ES256."""
    now = int(time.time())
    managed = {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "nbf": now, "exp": now + 3600}
    scope = "orders:read orders:write profile"
    return tuple(
        pyjwt.encode(
            {**managed, "jti": f"jti-{index}", "sub": f"user-{index:06d}", "scope": scope},
            key, "ES256",
        )
        for index in range(count)
    )


def reference_contenders() -> list[Contender]:
    hs256 = hs256_tokens(HS256_SECRET, WARM_TOKENS)
    es256_key = ec.generate_private_key(ec.SECP256R1())
    es256 = es256_tokens(es256_key, WARM_TOKENS)
    return [
        Contender(BARE, _apps.bare, hs256, authenticates=False),
        Contender(FLOOR, lambda: _apps.floor({"sub": "user-000000"}), hs256,
                  authenticates=False),
        Contender("BaseHTTPMiddleware doing nothing", _apps.noop_base_http, hs256,
                  authenticates=False),
        Contender(HS256, lambda: _apps.pyjwt_app(HS256_SECRET, "HS256"), hs256),
        Contender("PyJWT ES256, AuthenticationMiddleware",
                  lambda: _apps.pyjwt_app(es256_key.public_key(), "ES256"), es256),
    ]


def contenders(settings: Settings) -> list[Contender]:
    return [
        *reference_contenders(),
        *jwe_contenders(scenario(DIR, "dir", False, settings.dir_tokens)),
        *jwe_contenders(scenario(NESTED, "RSA-OAEP-256", True, settings.nested_tokens)),
    ]


# Reporting.

BARE = "bare Starlette, no auth"
FLOOR = "pure ASGI middleware, fixed claims, no auth"
HS256 = "PyJWT HS256, AuthenticationMiddleware"
DIR = "dir + A256GCM"
NESTED = "ES256 in RSA-OAEP-256"


def render(rates: dict[str, float], kinds: dict[str, str]) -> str:
    head = ["app", "tokens", "req/s", "µs/request", "× bare", "× floor", "× PyJWT HS256"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for name, rate in rates.items():
        cells = [name, kinds[name], f"{rate:,.0f}", f"{1e6 / rate:.1f}",
                 f"{rate / rates[BARE]:.2f}", f"{rate / rates[FLOOR]:.2f}",
                 f"{rate / rates[HS256]:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines += [
        f"{'met   ' if met else 'MISSED'} {target}: {value:.2f}x"
        for target, (met, value) in targets(rates).items()
    ]
    return "\n".join(lines)


def targets(rates: dict[str, float]) -> dict[str, tuple[bool, float]]:
    # The HS256 baseline is a shared-secret token; the like-for-like cold
    # row is ours with a shared key (dir). The RSA-OAEP row pays an RSA
    # private-key operation per token, which no signed-only app does.
    cold = rates[f"ours cold, {DIR}"] / rates[HS256]
    found = {f"ours cold >= 1.0x PyJWT HS256 ({DIR})": (cold >= 1.0, cold)}
    for label in (DIR, NESTED):
        warm = rates[f"ours warm, {label}"] / rates[BARE]
        found[f"ours warm >= 0.95x bare ({label})"] = (warm >= 0.95, warm)
    return found


def kind(contender: Contender) -> str:
    if not contender.authenticates:
        return "-"
    if contender.cold:
        return f"{len(contender.tokens)} distinct"
    return f"{len(contender.tokens)} reused"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.asgi", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="seconds-long smoke run")
    parser.add_argument("--repeat", type=int, help="rounds per contender; the median is kept")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    if args.repeat is not None:
        if args.repeat < 1:
            parser.error("--repeat must be at least 1")
        settings = Settings(args.repeat, settings.round_seconds, settings.nested_tokens,
                            settings.dir_tokens)

    rows = contenders(settings)
    rates = asyncio.run(measure(rows, settings))
    print(render(rates, {row.name: kind(row) for row in rows}))
    print(f"\nIn process, one event loop, {settings.repeat} rounds; median req/s per app.")


if __name__ == "__main__":
    main()
