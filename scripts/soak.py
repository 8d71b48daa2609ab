"""Soak: the example app under uvicorn with TLS on 127.0.0.1, driven for a while.

Run from the repository root::

    python -m scripts.soak                     # 300 s, concurrency 8
    python -m scripts.soak --duration 20       # the CI run (tests/test_scripts.py)
    python -m scripts.soak --duration 3600 --max-rss-growth-mb 16

A seeded mix of requests, at most ``--concurrency`` in flight: valid tokens
from the app's own login (answered from the token cache after the first
use), expired tokens minted with the app's keys and tampered tokens (each a
full decryption that fails), garbage, no token, and the public ``/health``.
The server's resident set (``VmRSS`` of ``python -m example_app``, where
uvicorn runs) is read after a warm-up, which fills the cache with the valid
tokens, and again at the end.

The exit status is 1 on any 5xx, any answer other than the one its kind must
get (an expired token accepted, say), any transport error, or RSS growth over
``--max-rss-growth-mb``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import ssl
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

if __package__ in (None, ""):
    # Run as a file: make the repository root importable, as ``-m`` would.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from tests._servers import RunningApp, example_server

USERS = (("alice", "alice-demo"), ("bob", "bob-demo"))
VALID_TOKENS = 16
RENEW_VALID_AFTER = 600.0
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
MIB = 1024 * 1024

# What each kind of request must get; anything else is a finding.
EXPECTED: dict[str, frozenset[int]] = {
    "valid /me": frozenset({200}),
    "valid /orders": frozenset({200, 403}),  # bob lacks orders:read
    "expired": frozenset({401}),
    "tampered": frozenset({401}),
    "garbage": frozenset({400, 401}),
    "no token": frozenset({401}),
    "health": frozenset({200}),
}
WEIGHTS = {
    "valid /me": 25, "valid /orders": 10, "expired": 20, "tampered": 20, "garbage": 15,
    "no token": 5, "health": 5,
}


@dataclass
class Tokens:
    """Valid tokens from the app's login, and expired ones minted with its keys."""

    valid: list[str]
    expired: list[str]
    minted_at: float = field(default_factory=time.monotonic)


async def login(client: httpx.AsyncClient, username: str, password: str) -> str:
    response = await client.post("/token", data={"username": username, "password": password})
    response.raise_for_status()
    return str(response.json()["access_token"])


async def valid_tokens(client: httpx.AsyncClient) -> list[str]:
    return [await login(client, *USERS[at % len(USERS)]) for at in range(VALID_TOKENS)]


def expired_tokens(dev_dir: Path) -> list[str]:
    """Tokens the app would accept but for ``exp``, an hour in the past."""
    os.environ["EXAMPLE_DEV_DIR"] = str(dev_dir)
    import example_app.main as example

    from jwe_middleware import TokenIssuer

    issuer = TokenIssuer(
        encryption_key=example.material.encryption_key.public(),
        signing_key=example.material.signing_key,
        issuer=example.ISSUER,
        audience=example.AUDIENCE,
        lifetime=60,
        clock=lambda: time.time() - 3600,
    )
    return [issuer.issue(example.USERS[name]["claims"]) for name in ("alice", "bob") * 4]


def tamper(value: str, rng: random.Random) -> str:
    # Change one character of the IV, ciphertext or tag, keeping the token
    # canonical base64url, so the refusal comes from the AES-GCM tag.
    segments = value.split(".")
    which = rng.choice((2, 3, 4))
    segment = segments[which]
    at = rng.randrange(len(segment) - 1)
    replacement = rng.choice(ALPHABET.replace(segment[at], ""))
    segments[which] = segment[:at] + replacement + segment[at + 1 :]
    return ".".join(segments)


def garbage(rng: random.Random) -> str:
    fixed = ("garbage", "a.b.c.d.e", "....", "A" * 10_000, "e30.e30.e30.e30.e30", "tok en")
    if rng.random() < 0.5:
        return rng.choice(fixed)
    return ".".join(
        "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(1, 40)))
        for _ in range(rng.randrange(1, 7))
    )


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def plan(kind: str, tokens: Tokens, rng: random.Random) -> tuple[str, dict[str, str]]:
    """The path and headers for one request of a kind."""
    if kind == "valid /me":
        return "/me", bearer(rng.choice(tokens.valid))
    if kind == "valid /orders":
        return "/orders", bearer(rng.choice(tokens.valid))
    if kind == "expired":
        return "/me", bearer(rng.choice(tokens.expired))
    if kind == "tampered":
        return "/me", bearer(tamper(rng.choice(tokens.valid), rng))
    if kind == "garbage":
        return "/me", bearer(garbage(rng))
    return ("/me" if kind == "no token" else "/health"), {}


@dataclass
class Tally:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    unexpected: Counter[str] = field(default_factory=Counter)
    transport_errors: Counter[str] = field(default_factory=Counter)

    @property
    def server_errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status >= 500)


async def worker(
    client: httpx.AsyncClient, tokens: Tokens, rng: random.Random, tally: Tally,
    deadline: float, max_requests: int,
) -> None:
    kinds, weights = list(WEIGHTS), list(WEIGHTS.values())
    while time.monotonic() < deadline and tally.requests < max_requests:
        kind = rng.choices(kinds, weights)[0]
        path, headers = plan(kind, tokens, rng)
        tally.requests += 1
        try:
            response = await client.get(path, headers=headers)
        except httpx.TransportError as exc:
            tally.transport_errors[type(exc).__name__] += 1
            continue
        tally.statuses[response.status_code] += 1
        if response.status_code not in EXPECTED[kind]:
            tally.unexpected[f"{kind} -> {response.status_code}"] += 1


async def drive(
    client: httpx.AsyncClient, tokens: Tokens, seconds: float, args: argparse.Namespace,
    tally: Tally, seed: int,
) -> None:
    if time.monotonic() - tokens.minted_at > RENEW_VALID_AFTER:
        # Keep the valid tokens valid on long runs (they live 900 s).
        tokens.valid, tokens.minted_at = await valid_tokens(client), time.monotonic()
    deadline = time.monotonic() + seconds
    await asyncio.gather(
        *(
            worker(client, tokens, random.Random(seed * 1000 + at), tally, deadline,
                   args.max_requests)
            for at in range(args.concurrency)
        )
    )


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def drain(stream: IO[bytes] | None, tail: deque[str]) -> threading.Thread:
    """Read the server's stderr so a full pipe can never stall it; keep the tail."""

    def read() -> None:
        if stream is None:
            return
        for line in stream:
            tail.append(line.decode("utf-8", "replace").rstrip())

    thread = threading.Thread(target=read, name="server-stderr", daemon=True)
    thread.start()
    return thread


async def soak(server: RunningApp, dev_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    context = ssl.create_default_context(cafile=str(server.cert))
    limits = httpx.Limits(max_connections=args.concurrency)
    async with httpx.AsyncClient(
        base_url=server.url, verify=context, limits=limits, timeout=10
    ) as client:
        tokens = Tokens(await valid_tokens(client), expired_tokens(dev_dir))
        warm_tally, tally = Tally(), Tally()
        await drive(client, tokens, args.warmup, args, warm_tally, args.seed)
        rss_warm = rss_bytes(server.process.pid)
        started = time.monotonic()
        await drive(client, tokens, args.duration - args.warmup, args, tally, args.seed + 1)
        elapsed = time.monotonic() - started
        rss_end = rss_bytes(server.process.pid)
    return {"warm": warm_tally, "main": tally, "rss": (rss_warm, rss_end), "elapsed": elapsed}


def report(result: dict[str, Any], args: argparse.Namespace, tail: deque[str]) -> bool:
    warm, main = result["warm"], result["main"]
    rss_warm, rss_end = result["rss"]
    growth = (rss_end - rss_warm) / MIB
    total = Counter(warm.statuses) + Counter(main.statuses)
    unexpected = warm.unexpected + main.unexpected
    errors = warm.transport_errors + main.transport_errors
    requests = warm.requests + main.requests
    print(f"soak: {args.duration:g} s (warm-up {args.warmup:g} s), concurrency "
          f"{args.concurrency}, seed {args.seed}")
    print(f"requests: {requests} (after warm-up: {main.requests}, "
          f"{main.requests / max(result['elapsed'], 1e-9):.0f} per second)")
    print("status: " + ", ".join(f"{code}: {count}" for code, count in sorted(total.items())))
    print(f"5xx: {warm.server_errors + main.server_errors}")
    print(f"unexpected answers: {sum(unexpected.values())} {dict(unexpected) or ''}".rstrip())
    print(f"transport errors: {sum(errors.values())} {dict(errors) or ''}".rstrip())
    print(f"server RSS: warm {rss_warm / MIB:.1f} MiB, end {rss_end / MIB:.1f} MiB, "
          f"delta {growth:+.1f} MiB (limit {args.max_rss_growth_mb:g} MiB)")
    failed = bool(total.keys() & range(500, 600) or unexpected or errors)
    failed = failed or growth > args.max_rss_growth_mb
    if failed and tail:
        print("server stderr (last lines):\n  " + "\n  ".join(tail))
    print("result: FAIL" if failed else "result: ok")
    return not failed


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=300.0, help="seconds in all")
    parser.add_argument("--warmup", type=float, default=None,
                        help="seconds before the first RSS reading (default: a quarter, <= 30)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--max-rss-growth-mb", type=float, default=8.0)
    parser.add_argument("--max-requests", type=int, default=5_000_000,
                        help="a cap per phase, whatever the duration")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.warmup is None:
        args.warmup = min(30.0, args.duration / 4)
    if not 0 < args.warmup < args.duration or not 1 <= args.concurrency <= 64:
        parser.error("need 0 < --warmup < --duration and 1 <= --concurrency <= 64")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    tail: deque[str] = deque(maxlen=40)
    with tempfile.TemporaryDirectory(prefix="soak-") as scratch:
        dev_dir = Path(scratch)
        with example_server(dev_dir) as server:
            drain(server.process.stderr, tail)
            print(f"server: {server.url} (pid {server.process.pid})", flush=True)
            result = asyncio.run(soak(server, dev_dir, args))
    return 0 if report(result, args, tail) else 1


if __name__ == "__main__":
    sys.exit(main())
