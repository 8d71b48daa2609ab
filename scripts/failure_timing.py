"""Time ``TokenDecoder.decode`` per failure class.

RFC 7516 section 11.5: a recipient must not let an attacker tell which step
of decryption failed, by its answer or by its timing. The middleware gives one
answer for all; this script shows the timing side. Failures that cost no
cryptography (a malformed header, a refused algorithm, an unknown kid) are
expected to be fast: they depend only on what the attacker sent. Failures
after a key was used (encrypted key, ciphertext, tag) should cost about the
same as each other. In the CBC-HS path the tag is checked before unpadding
(RFC 7518 section 5.2.2.2), so a bad padding under a wrong tag must time like
any bad tag.

Usage (from the repository root):

    .venv/bin/python scripts/failure_timing.py [--iterations 2000] [--no-cbc]

``--no-cbc`` leaves out the CBC-HS cases, for a service that keeps CBC off
as the default policy does.

The tokens are forged with the helpers of the attack tests
(``tests/attacks/_forge.py``).
"""

from __future__ import annotations

import argparse
import importlib
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple

from jwe_middleware import TokenDecoder, TokenError


class Case(NamedTuple):
    path: str
    name: str
    decoder: TokenDecoder
    token: str


def _forge() -> Any:
    root = Path(__file__).resolve().parents[1]
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return importlib.import_module("tests.attacks._forge")


def rsa_cases(forge: Any) -> list[Case]:
    """RSA-OAEP-256 + A256GCM, nested (ES256 inside): the default path."""
    decoder = forge.decoder()
    valid = forge.nested()
    header = forge.unb64(valid.header)
    bad_signature = forge.jws(forge.claims(), key=forge.keys().es256)
    bad_signature = bad_signature[:-2] + ("A" if bad_signature[-2] != "A" else "B") + "A"
    expired = forge.claims(exp=forge.NOW - 3600, iat=forge.NOW - 7200, nbf=forge.NOW - 7200)
    tokens = {
        "valid": valid,
        "malformed header": valid._replace(header=forge.b64(b'{"alg":')),
        "disallowed alg": valid._replace(
            header=forge.b64(header.replace(b'"RSA-OAEP-256"', b'"RSA1_5"'))
        ),
        "unknown kid": valid._replace(header=forge.b64(header.replace(b"svc-rsa", b"svc-xyz"))),
        "tampered encrypted key": valid.flip("encrypted_key", 100),
        "tampered ciphertext": valid.flip("ciphertext", 10),
        "tampered tag": valid.flip("tag", 5),
        "bad inner signature": forge.seal(bad_signature),
        "expired": forge.nested(expired),
    }
    return [Case("RSA-OAEP-256+A256GCM", name, decoder, t.compact) for name, t in tokens.items()]


def cbc_cases(forge: Any) -> list[Case]:
    """dir + A128CBC-HS256 (CBC opted in), nested."""
    decoder = forge.decoder(content_algorithms=["A256GCM", "A128CBC-HS256"])
    direct = forge.keys().direct
    valid = forge.nested(recipient=direct, enc="A128CBC-HS256")
    header = {"alg": "dir", "enc": "A128CBC-HS256", "kid": direct.kid, "cty": "JWT"}
    # As long as the valid ciphertext, with no PKCS#7 padding and a zero last
    # byte: the padding is wrong once decrypted.
    length = len(forge.unb64(valid.ciphertext))
    bad_padding = forge.jwe(b"A" * (length - 1) + b"\0", header, key=direct, pad=False)
    tokens = {
        "valid": valid,
        "bad tag": valid.flip("tag", 0),
        "tampered ciphertext": valid.flip("ciphertext", 10),
        "bad padding, wrong tag": bad_padding.flip("tag", 0),
        "bad padding, valid tag*": bad_padding,
    }
    return [Case("dir+A128CBC-HS256", name, decoder, t.compact) for name, t in tokens.items()]


def outcome(case: Case) -> str:
    try:
        case.decoder.decode(case.token)
    except TokenError as error:
        return error.code
    return "ok"


def measure(cases: list[Case], iterations: int) -> dict[Case, list[float]]:
    # Round robin in a fresh random order each time, so neither drift in CPU
    # frequency nor the case run just before favours any case.
    samples: dict[Case, list[float]] = {case: [] for case in cases}
    order = list(cases)
    shuffle = random.Random(7).shuffle
    for _ in range(iterations):
        shuffle(order)
        for case in order:
            start = time.perf_counter_ns()
            try:
                case.decoder.decode(case.token)
            except TokenError:
                pass
            samples[case].append((time.perf_counter_ns() - start) / 1000)
    return samples


def table(cases: list[Case], samples: dict[Case, list[float]]) -> str:
    lines = [
        "| path | case | code | median µs | p10 µs | p90 µs |",
        "| --- | --- | --- | ---: | ---: | ---: |",
    ]
    for case in cases:
        deciles = statistics.quantiles(samples[case], n=10)
        median = statistics.median(samples[case])
        lines.append(
            f"| {case.path} | {case.name} | {outcome(case)} | {median:.1f} "
            f"| {deciles[0]:.1f} | {deciles[8]:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=2000, help="decodes per case")
    parser.add_argument(
        "--no-cbc", dest="cbc", action="store_false", help="leave out the CBC-HS cases"
    )
    args = parser.parse_args(argv)
    if args.iterations < 2:
        parser.error("--iterations must be at least 2")

    forge = _forge()
    cases = rsa_cases(forge) + (cbc_cases(forge) if args.cbc else [])
    measure(cases, max(1, args.iterations // 20))  # warm-up
    print(table(cases, measure(cases, args.iterations)))
    print()
    if args.cbc:
        print("* a bad padding under a valid tag needs the key; no attacker can send it.")
    print(f"{args.iterations} iterations per case, Python {sys.version.split()[0]}.")


if __name__ == "__main__":
    main()
