"""Mutation fuzzer: valid tokens, mutated, sent through the whole ASGI app in process.

Run from the repository root::

    python -m scripts.fuzz_asgi                          # 100,000 inputs, seed 1
    python -m scripts.fuzz_asgi --count 2000             # the CI smoke run
    python -m scripts.fuzz_asgi --count 0 --seconds 3600 # an hour, no count limit
    python scripts/fuzz_asgi.py --engine random          # skip atheris even if installed

Two apps take turns. ``example`` is ``example_app.main.app`` as shipped
(RSA-OAEP-256 + A256GCM around an ES256 JWS). ``dir`` has the same routes and
middleware options with a 256-bit ``dir`` key, so a mutant that survives
parsing reaches AES-GCM without paying for an RSA decryption first.

Each input starts from a freshly minted valid token and applies zero to four
mutations: bit flips, byte inserts and deletes, segment duplication, swaps,
truncation and splicing, doubled dots, standard-alphabet and padded base64,
inflation past the size limit, and header JSON re-encoded with a changed
member. The request around it varies too: path, scheme, ``Bearer`` spelling,
two credentials, a cookie. The app is called directly with a hand-built scope.

With ``atheris`` importable (it is not a project dependency), libFuzzer makes
the choices and follows coverage of ``jwe_middleware``; otherwise a
``random.Random(seed)`` makes them, and a run repeats exactly.

The exit status is 1 on any of: a 5xx answer, an exception escaping the app,
or an accepted mutant (a token unlike every minted one answered 200 on a
protected path). Exceptions the middleware caught inside the decoder and
answered with 401 are counted as "masked", for information.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import logging
import os
import random
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple, Protocol

if __package__ in (None, ""):
    # Run as a file: make the repository root importable, as ``-m`` would.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ASGIApp = Callable[..., Any]

TOKEN_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
PROTECTED_PATHS = ("/me", "/orders")
OTHER_PATHS = ("/orders", "/logout", "/health", "/no-such-path", "/me/", "/docs")
SCHEME_SPELLINGS = (b"bearer ", b"BEARER ", b"Bearer  ", b"Bearer\t", b" Bearer ", b"Bearer")
RENEW_SEEDS_AFTER = 600.0
MAX_SAMPLES = 5


class Choices(Protocol):
    def below(self, bound: int) -> int:
        """An integer in ``range(bound)``; ``bound`` is at least 1."""


class SeededChoices:
    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def below(self, bound: int) -> int:
        return self._random.randrange(bound)


class ProvidedChoices:
    """Choices read from libFuzzer's input, so coverage guides them."""

    def __init__(self, provider: Any) -> None:
        self._provider = provider

    def below(self, bound: int) -> int:
        return int(self._provider.ConsumeIntInRange(0, bound - 1))


def pick(choices: Choices, items: Sequence[Any]) -> Any:
    return items[choices.below(len(items))]


def percent(choices: Choices, share: int) -> bool:
    # High values mean "yes": libFuzzer's exhausted input reads as 0, the usual case.
    return choices.below(100) >= 100 - share


# --- mutations ---------------------------------------------------------------

Mutator = Callable[[bytes, Choices, Sequence[bytes]], bytes]


def some_byte(choices: Choices) -> int:
    if choices.below(8):
        return int(pick(choices, TOKEN_ALPHABET + b".=+/~ "))
    return choices.below(256)


def flip_bit(token: bytes, choices: Choices, pool: Sequence[bytes]) -> bytes:
    if not token:
        return token
    at = choices.below(len(token))
    return token[:at] + bytes([token[at] ^ (1 << choices.below(8))]) + token[at + 1 :]


def replace_byte(token: bytes, choices: Choices, pool: Sequence[bytes]) -> bytes:
    if not token:
        return token
    at = choices.below(len(token))
    return token[:at] + bytes([some_byte(choices)]) + token[at + 1 :]


def insert_byte(token: bytes, choices: Choices, pool: Sequence[bytes]) -> bytes:
    at = choices.below(len(token) + 1)
    return token[:at] + bytes([some_byte(choices)]) + token[at:]


def delete_span(token: bytes, choices: Choices, pool: Sequence[bytes]) -> bytes:
    if not token:
        return token
    at = choices.below(len(token))
    return token[:at] + token[at + 1 + choices.below(16) :]


def inflate(token: bytes, choices: Choices, pool: Sequence[bytes]) -> bytes:
    at = choices.below(len(token) + 1)
    return token[:at] + b"A" * pick(choices, (4, 100, 1000, 8192)) + token[at:]


def on_segments(edit: Callable[[list[bytes], Choices], None]) -> Mutator:
    def mutate(token: bytes, choices: Choices, pool: Sequence[bytes]) -> bytes:
        parts = token.split(b".")
        edit(parts, choices)
        return b".".join(parts)

    mutate.__name__ = edit.__name__
    return mutate


@on_segments
def duplicate_segment(parts: list[bytes], choices: Choices) -> None:
    at = choices.below(len(parts))
    parts.insert(at, parts[at])


@on_segments
def swap_segments(parts: list[bytes], choices: Choices) -> None:
    one, two = choices.below(len(parts)), choices.below(len(parts))
    parts[one], parts[two] = parts[two], parts[one]


@on_segments
def truncate_segment(parts: list[bytes], choices: Choices) -> None:
    at = choices.below(len(parts))
    parts[at] = parts[at][: choices.below(len(parts[at]) + 1)]


@on_segments
def drop_segment(parts: list[bytes], choices: Choices) -> None:
    if len(parts) > 1:
        del parts[choices.below(len(parts))]


@on_segments
def double_dot(parts: list[bytes], choices: Choices) -> None:
    parts.insert(choices.below(len(parts) + 1), b"")


@on_segments
def standard_alphabet(parts: list[bytes], choices: Choices) -> None:
    at = choices.below(len(parts))
    segment = parts[at]
    how = choices.below(3)
    if how == 0:
        parts[at] = segment.translate(bytes.maketrans(b"-_", b"+/"))
    elif how == 1:
        parts[at] = segment + b"=" * ((-len(segment) % 4) or 4)
    elif segment:
        # Set the spare low bits of the last character: a non-canonical spelling.
        last = TOKEN_ALPHABET[(TOKEN_ALPHABET.find(segment[-1]) | 1) % 64]
        parts[at] = segment[:-1] + bytes([last])


def splice(token: bytes, choices: Choices, pool: Sequence[bytes]) -> bytes:
    parts, donor = token.split(b"."), pick(choices, pool).split(b".")
    at = choices.below(min(len(parts), len(donor)))
    parts[at] = donor[at]
    return b".".join(parts)


HEADER_NAMES = (
    "alg", "enc", "kid", "cty", "typ", "zip", "crit", "jku", "x5u", "jwk", "x5c", "x5t",
    "epk", "p2s", "p2c", "iv", "tag", "b64", "exp", "ALG",
)
HEADER_VALUES: tuple[Any, ...] = (
    "none", "RSA1_5", "dir", "A256KW", "RSA-OAEP", "RSA-OAEP-256", "ES256", "HS256",
    "A128GCM", "A256GCM", "A256CBC-HS512", "DEF", "JWT", "jwt", "application/jwt", "",
    "../../../../etc/passwd", "' OR '1'='1' --", "https://127.0.0.1:9/jwks.json", "\x00",
    "é", "A" * 300, None, True, 0, -1, 2**64, 1.5, [], ["alg"], ["exp"], ["x"], {},
    {"kty": "oct", "k": "AAAA"},
)


def change_header(header: dict[str, Any], choices: Choices) -> None:
    if header and percent(choices, 25):
        del header[pick(choices, sorted(header))]
        return
    header[pick(choices, HEADER_NAMES)] = pick(choices, HEADER_VALUES)


def encode_header(header: dict[str, Any], choices: Choices) -> bytes:
    text = json.dumps(header, separators=(",", ":")).encode()
    how = choices.below(9)
    if how == 1:
        text = json.dumps(header, indent=1, ensure_ascii=False).encode()
    elif how == 2:
        text = b'{"alg":"none",' + text[1:] if len(text) > 2 else text
    elif how == 3:
        text = b"\xef\xbb\xbf" + text
    elif how == 4:
        depth = pick(choices, (7, 9, 100, 5000))
        text = b'{"x":' + b"[" * depth + b"]" * depth + b"," + text[1:]
    elif how == 5:
        text = pick(choices, (b"[]", b"null", b'"x"', b'{"alg":NaN}', b"{", text + b"x"))
    elif how == 6 and text:
        at = choices.below(len(text))
        text = text[:at] + b"\xff" + text[at + 1 :]
    elif how == 7:
        text = json.dumps(dict(reversed(list(header.items())))).encode()
    return text


def rewrite_header(token: bytes, choices: Choices, pool: Sequence[bytes]) -> bytes:
    segment, dot, rest = token.partition(b".")
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4)))
    except (ValueError, RecursionError):
        return token
    if not isinstance(header, dict):
        return token
    change_header(header, choices)
    return b64url(encode_header(header, choices)) + dot + rest


def b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


MUTATORS: tuple[Mutator, ...] = (
    flip_bit, replace_byte, insert_byte, delete_span, inflate, duplicate_segment,
    swap_segments, truncate_segment, drop_segment, double_dot, standard_alphabet, splice,
    rewrite_header, rewrite_header,
)


# --- targets and requests ----------------------------------------------------


@dataclass
class Target:
    """One app under test and the valid tokens its mutants start from."""

    name: str
    app: ASGIApp
    mint: Callable[[], list[bytes]]
    seeds: list[bytes] = field(default_factory=list)
    minted_at: float = 0.0

    def fresh_seeds(self) -> list[bytes]:
        # Seeds must stay valid: a long run re-mints them before they expire.
        if not self.seeds or time.monotonic() - self.minted_at > RENEW_SEEDS_AFTER:
            self.seeds, self.minted_at = self.mint(), time.monotonic()
        return self.seeds


class Probe(NamedTuple):
    path: str
    scheme: str
    headers: list[tuple[bytes, bytes]]
    token: bytes


def make_probe(seeds: Sequence[bytes], pool: Sequence[bytes], choices: Choices) -> Probe:
    token = pick(choices, seeds)
    for _ in range(0 if percent(choices, 5) else 1 + choices.below(4)):
        token = pick(choices, MUTATORS)(token, choices, pool)
    path = pick(choices, OTHER_PATHS) if percent(choices, 15) else "/me"
    scheme = "http" if percent(choices, 5) else "https"
    return Probe(path, scheme, credentials(token, choices), token)


def credentials(token: bytes, choices: Choices) -> list[tuple[bytes, bytes]]:
    roll = choices.below(100)
    if roll < 90:
        return [(b"authorization", b"Bearer " + token)]
    if roll < 95:
        return [(b"authorization", pick(choices, SCHEME_SPELLINGS) + token)]
    if roll < 98:
        return [(b"authorization", b"Bearer " + token)] * 2
    return [(b"cookie", b"session=" + token)]


async def call(app: ASGIApp, probe: Probe) -> tuple[int, BaseException | None]:
    """Call the app once, as a server would; return the status and any escaped error."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": probe.scheme, "path": probe.path, "raw_path": probe.path.encode(),
        "query_string": b"", "root_path": "", "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8443), "headers": [(b"host", b"127.0.0.1"), *probe.headers],
    }
    status, received = 0, False

    async def receive() -> dict[str, Any]:
        nonlocal received
        if received:
            return {"type": "http.disconnect"}
        received = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])

    try:
        await app(scope, receive, send)
    except Exception as exc:
        return status, exc
    return status, None


# --- bookkeeping -------------------------------------------------------------


class ErrorLog(logging.Handler):
    """Collect the middleware's ERROR records (decoder exceptions it masked)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@dataclass
class Tally:
    inputs: int = 0
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    server_errors: int = 0
    escaped: Counter[str] = field(default_factory=Counter)
    accepted: int = 0
    masked: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)

    def record(
        self, target: Target, probe: Probe, status: int, error: BaseException | None
    ) -> None:
        self.inputs += 1
        self.statuses.setdefault(target.name, Counter())[status] += 1
        if status >= 500:
            self.server_errors += 1
            self.sample(f"{status} from {target.name}", probe, None)
        if error is not None:
            self.escaped[type(error).__name__] += 1
            self.sample(f"escaped {type(error).__name__} from {target.name}", probe, error)
        if is_accepted_mutant(target, probe, status):
            self.accepted += 1
            self.sample(f"accepted mutant on {target.name}", probe, None)

    def sample(self, what: str, probe: Probe, error: BaseException | None) -> None:
        if len(self.samples) >= MAX_SAMPLES:
            return
        text = f"{what}: {probe.scheme} {probe.path} headers={probe.headers!r}"
        if error is not None:
            text += "\n" + "".join(traceback.format_exception(error))
        self.samples.append(text)

    @property
    def failed(self) -> bool:
        return bool(self.server_errors or self.escaped or self.accepted)


def is_accepted_mutant(target: Target, probe: Probe, status: int) -> bool:
    if status != 200 or probe.scheme != "https" or probe.path not in PROTECTED_PATHS:
        return False
    return probe.token.strip(b" \t") not in target.seeds


async def fuzz_one(
    targets: Sequence[Target], choices: Choices, tally: Tally, log: ErrorLog
) -> None:
    target = pick(choices, targets)
    pool = [seed for each in targets for seed in each.fresh_seeds()]
    probe = make_probe(target.seeds, pool, choices)
    before = len(log.messages)
    status, error = await call(target.app, probe)
    tally.record(target, probe, status, error)
    if probe.scheme == "http" and probe.token.strip(b" \t") in target.seeds:
        # The middleware revokes a valid token seen over plain HTTP (RFC 6750
        # section 5.3); fresh seeds keep the valid baseline answering 200.
        target.seeds = []
    for message in log.messages[before:]:
        tally.masked[message] += 1


def report(tally: Tally, engine: str, elapsed: float, descriptions: dict[str, str]) -> None:
    rate = tally.inputs / elapsed if elapsed else 0.0
    print(f"engine: {engine}")
    print(f"inputs: {tally.inputs} in {elapsed:.1f} s ({rate:.0f} per second)")
    for name, statuses in sorted(tally.statuses.items()):
        histogram = ", ".join(f"{code}: {count}" for code, count in sorted(statuses.items()))
        print(f"{name} ({descriptions[name]}): {sum(statuses.values())} inputs; {histogram}")
    print(f"5xx: {tally.server_errors}")
    print(f"escaped exceptions: {sum(tally.escaped.values())} {dict(tally.escaped) or ''}".rstrip())
    print(f"accepted mutants: {tally.accepted}")
    masked = sum(tally.masked.values())
    print(f"masked decoder exceptions (answered 401): {masked} {dict(tally.masked) or ''}".rstrip())
    for sample in tally.samples:
        print(f"--- {sample}")
    print("result: FAIL" if tally.failed else "result: ok")


# --- the two apps --------------------------------------------------------------


DESCRIPTIONS = {
    "example": "RSA-OAEP-256 + A256GCM around ES256, as shipped",
    "dir": "dir + A256GCM around ES256, example routes and options",
}


def build_targets() -> list[Target]:
    import example_app.main as example
    from fastapi import FastAPI
    from fastapi.routing import APIRoute

    from jwe_middleware import (
        JWEMiddleware,
        KeyRing,
        MemoryRevocationStore,
        TokenDecoder,
        TokenIssuer,
        generate_key,
    )

    users = [example.USERS[name]["claims"] for name in ("alice", "alice", "bob")]
    dir_key = generate_key("dir", kid="fuzz-dir-1")
    signing = generate_key("ES256", kid="fuzz-sig-1")
    variant = FastAPI(routes=[route for route in example.app.routes if isinstance(route, APIRoute)])
    # The example's middleware options, with a decoder of its own for dir keys.
    options = dict(example.app.user_middleware[0].kwargs)
    options["decoder"] = TokenDecoder(
        decryption_keys=KeyRing([dir_key]),
        verification_keys=KeyRing([signing.public()]),
        issuer=example.ISSUER,
        audience=example.AUDIENCE,
    )
    options["revocation"] = MemoryRevocationStore()
    variant.add_middleware(JWEMiddleware, **options)
    dir_issuer = TokenIssuer(
        encryption_key=dir_key, signing_key=signing, issuer=example.ISSUER,
        audience=example.AUDIENCE, lifetime=example.TOKEN_LIFETIME,
    )

    def minter(issuer: Any) -> Callable[[], list[bytes]]:
        return lambda: [issuer.issue(claims).encode() for claims in users]

    return [
        Target("example", example.app, minter(example.issuer)),
        Target("dir", variant, minter(dir_issuer)),
    ]


def capture_errors() -> ErrorLog:
    log = ErrorLog()
    logger = logging.getLogger("jwe_middleware")
    # Refusals are logged per request; keep them off the terminal.
    logger.handlers[:] = [log]
    logger.propagate = False
    return log


# --- engines -------------------------------------------------------------------


class Budget(NamedTuple):
    count: int
    seconds: float
    started: float

    def spent(self, inputs: int) -> bool:
        over_count = self.count > 0 and inputs >= self.count
        over_time = self.seconds > 0 and time.monotonic() - self.started >= self.seconds
        return over_count or over_time


def run_seeded(targets: list[Target], budget: Budget, seed: int, log: ErrorLog) -> Tally:
    choices, tally = SeededChoices(seed), Tally()

    async def loop() -> None:
        while not budget.spent(tally.inputs):
            await fuzz_one(targets, choices, tally, log)

    asyncio.run(loop())
    return tally


def run_atheris(atheris: Any, targets: list[Target], budget: Budget, seed: int,
                log: ErrorLog) -> None:
    """Hand the loop to libFuzzer; end the process from inside once the budget is spent."""
    loop, tally = asyncio.new_event_loop(), Tally()
    engine = f"atheris {metadata.version('atheris')} (libFuzzer, seed {seed})"

    def one_input(data: bytes) -> None:
        choices = ProvidedChoices(atheris.FuzzedDataProvider(data))
        loop.run_until_complete(fuzz_one(targets, choices, tally, log))
        if budget.spent(tally.inputs):
            report(tally, engine, time.monotonic() - budget.started, DESCRIPTIONS)
            sys.stdout.flush()
            # libFuzzer ends with C exit(), skipping Python's own shutdown;
            # ending here is the only way to print the totals.
            os._exit(1 if tally.failed else 0)

    runs = budget.count + 1000 if budget.count else -1
    limit = int(budget.seconds) + 60 if budget.seconds else 0
    argv = [sys.argv[0], f"-seed={seed}", f"-runs={runs}", f"-max_total_time={limit}",
            "-max_len=4096", "-print_final_stats=0"]
    atheris.Setup(argv, one_input)
    atheris.Fuzz()


def load_atheris(engine: str) -> Any:
    if engine == "random":
        return None
    try:
        import atheris  # type: ignore[import-not-found]
    except ImportError:
        if engine == "atheris":
            raise
        return None
    return atheris


@contextlib.contextmanager
def instrumented(atheris: Any) -> Iterator[None]:
    if atheris is None:
        yield
        return
    with atheris.instrument_imports(include=["jwe_middleware"]):
        yield


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="inputs to try; 0: no limit")
    parser.add_argument("--seed", type=int, default=1, help="seed for the choices")
    parser.add_argument("--seconds", type=float, default=0.0, help="time cap; 0: none")
    parser.add_argument("--engine", choices=("auto", "atheris", "random"), default="auto")
    args = parser.parse_args(argv)
    if args.count < 0 or args.seconds < 0 or (args.count == 0 and args.seconds == 0):
        parser.error("give a positive --count or --seconds (or both)")
    if args.seed <= 0:
        parser.error("--seed must be positive (libFuzzer takes 0 as 'pick one')")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    atheris = load_atheris(args.engine)
    with instrumented(atheris):
        targets = build_targets()
    log = capture_errors()
    budget = Budget(args.count, args.seconds, time.monotonic())
    if atheris is not None:
        run_atheris(atheris, targets, budget, args.seed, log)
        raise SystemExit("libFuzzer stopped before the budget was spent")
    tally = run_seeded(targets, budget, args.seed, log)
    report(tally, f"random (seed {args.seed})", time.monotonic() - budget.started, DESCRIPTIONS)
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
