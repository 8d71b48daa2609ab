"""Memory under a stream of distinct tokens: RSS stays flat once the cache is full.

Run from the repository root::

    .venv/bin/python -m benchmarks.memory            # 1,000,000 tokens, about two minutes
    .venv/bin/python -m benchmarks.memory --quick    # 30,000 tokens, a few seconds

One Starlette app behind ``JWEMiddleware`` with its defaults (cache of
10,000 entries), called in process. Tokens are dir + A256GCM, minted by
``TokenIssuer`` in batches that are dropped once sent, so the only thing that
can grow is what the app keeps. Every token is distinct, so every request is
a cache miss that inserts an entry and, past the bound, evicts one. The
process RSS is read from ``/proc/self/statm`` after warm-up (twice the cache
bound) and at checkpoints up to the end; the verdict compares the end with
the warm-up value.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import time
import tracemalloc
from pathlib import Path

from starlette.types import ASGIApp, Message

from jwe_middleware import AuthEvent, generate_key
from jwe_middleware._cache import TokenCache

from . import _apps
from ._tokens import Scenario, mint
from .asgi import receive, scope_for

__all__ = ["main"]

CACHE_BOUND = 10_000
WARM_UP = 2 * CACHE_BOUND
BATCH = 5_000
# RSS may move by allocator noise; more than this beyond warm-up is growth.
FLAT_TOLERANCE_MB = 8.0


def rss_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class Tally:
    """Statuses the app answered, and how many accepted tokens came from the cache."""

    def __init__(self) -> None:
        self.statuses: dict[int, int] = {}
        self.cache_hits = 0

    def on_event(self, event: AuthEvent) -> None:
        self.cache_hits += event.cached

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.statuses[message["status"]] = self.statuses.get(message["status"], 0) + 1


async def send_batch(app: ASGIApp, tokens: tuple[str, ...], tally: Tally) -> None:
    for token in tokens:
        await app(scope_for(token), receive, tally.send)


async def stream(total: int, checkpoints: int) -> tuple[list[tuple[int, float]], Tally]:
    key = generate_key("dir", kid="memory-dir-1")
    decoder = _apps.decoder_for(Scenario("dir + A256GCM", key, None, ()))
    tally = Tally()
    app = _apps.ours(decoder, on_event=tally.on_event)
    samples: list[tuple[int, float]] = [(0, rss_mb())]
    step = max(total // checkpoints, BATCH)
    sent = 0
    while sent < total:
        batch = mint(key, None, min(BATCH, total - sent))
        await send_batch(app, batch, tally)
        sent += len(batch)
        if sent == WARM_UP or sent % step == 0 or sent == total:
            gc.collect()
            samples.append((sent, rss_mb()))
    return samples, tally


def bytes_per_entry(count: int = 2_000) -> float:
    """What one cache entry holds, measured with tracemalloc.

    Each token is decoded and put in a ``TokenCache`` exactly as the
    middleware does on a miss, then dropped, so what stays traced is what
    the cache keeps: the digest, the entry, its claims and their values.
    """
    key = generate_key("dir", kid="memory-dir-2")
    decoder = _apps.decoder_for(Scenario("dir + A256GCM", key, None, ()))
    tokens = mint(key, None, count)
    cache = TokenCache(max_entries=count, clock=decoder.clock)
    version = decoder.key_snapshot()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for token in tokens:
        cache.put(token, decoder.decode_token(token), version)
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    if len(cache) != count:
        raise SystemExit(f"the cache holds {len(cache)} entries, not {count}")
    return held / count


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="30,000 tokens instead of 1,000,000")
    parser.add_argument("--tokens", type=int, help="distinct tokens to send")
    args = parser.parse_args(argv)
    total = args.tokens or (30_000 if args.quick else 1_000_000)
    if not WARM_UP < total <= 5_000_000:
        parser.error(f"--tokens must be in ({WARM_UP:,}, 5,000,000]")

    started = time.perf_counter()
    samples, tally = asyncio.run(stream(total, checkpoints=10))
    elapsed = time.perf_counter() - started

    print("| tokens sent | RSS MB |")
    print("| --- | --- |")
    for sent, rss in samples:
        print(f"| {sent:,} | {rss:.1f} |")
    warm = next(rss for sent, rss in samples if sent >= WARM_UP)
    end = samples[-1][1]
    growth = end - warm
    print(f"\nstatuses: {dict(sorted(tally.statuses.items()))}; cache hits: {tally.cache_hits}")
    print(f"RSS after warm-up ({WARM_UP:,} tokens): {warm:.1f} MB; at the end: {end:.1f} MB; "
          f"growth {growth:+.1f} MB over {total - WARM_UP:,} more tokens; {elapsed:.0f} s")
    print(f"one cache entry (8 claims, tracemalloc): {bytes_per_entry():,.0f} bytes")
    flat = growth <= FLAT_TOLERANCE_MB and set(tally.statuses) == {200}
    print(f"{'met   ' if flat else 'MISSED'} memory flat beyond the cache bound "
          f"(growth <= {FLAT_TOLERANCE_MB:g} MB, every request 200)")
    if not flat:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
