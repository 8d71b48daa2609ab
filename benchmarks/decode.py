"""Per-token decode time: ours beside python-jose, joserfc, jwcrypto and the bare primitives.

Run from the repository root::

    .venv/bin/python -m benchmarks.decode                 # the full table, about a minute
    .venv/bin/python -m benchmarks.decode --quick         # a smoke run for CI, seconds
    .venv/bin/python -m benchmarks.decode --repeat 9 --json bench.json

Every contender decodes the same tokens with keys imported once, and does the
same work: decrypt, verify the inner signature of a nested token, parse the
claims, check exp, nbf, iss and aud. The floor is the ``cryptography``
primitives with nothing around them but base64 and ``json.loads``: no header
or claim checks. Each time is the median, over many rounds, of the mean time
per token in a round. Contenders take turns within a round, and each ratio is
the median of the per-round ratios, so a slow patch of machine time hurts the
two sides of a ratio alike.
"""

from __future__ import annotations

import argparse
import base64
import gc
import json
import os
import platform
import statistics
import time
import tracemalloc
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from importlib import metadata
from typing import Any

import jwcrypto.jwk
import jwcrypto.jwt
import jwt as pyjwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap
from jose import jwe as jose_jwe
from jose import jws as jose_jws
from joserfc import jwe as rfc_jwe
from joserfc import jwt as rfc_jwt
from joserfc.jwe import JWERegistry
from joserfc.jwk import ECKey, OctKey, RSAKey
from joserfc.jws import JWSRegistry

from jwe_middleware import KeyRing, TokenDecoder, generate_key
from jwe_middleware._cache import TokenCache

from ._tokens import AUDIENCE, ISSUER, Scenario, build_scenarios, hs256_tokens, mint

__all__ = ["floor", "joserfc", "jwcrypto_", "main", "ours", "python_jose"]

Decode = Callable[[str], Mapping[str, Any]]
LEEWAY = 30
CONTENDERS = ("ours", "python-jose", "joserfc", "jwcrypto", "floor")


@dataclass(frozen=True)
class Settings:
    repeat: int
    round_seconds: float
    cache_entries: int


# Many short rounds rather than a few long ones: on a shared machine a slow
# patch then spoils a few samples of every contender instead of one
# contender's whole figure.
FULL = Settings(repeat=21, round_seconds=0.05, cache_entries=10_000)
QUICK = Settings(repeat=3, round_seconds=0.01, cache_entries=1_000)


@dataclass
class Results:
    settings: Settings
    # Per scenario and contender, microseconds per token, one sample per round.
    samples: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    reference: dict[str, float] = field(default_factory=dict)
    cache: dict[str, float] = field(default_factory=dict)


# The contenders. Each builder imports its keys once and returns a function
# from a token to its checked claims.


def ours(scenario: Scenario) -> Decode:
    signing = scenario.signing_key
    decoder = TokenDecoder(
        decryption_keys=KeyRing([scenario.decryption_key]),
        verification_keys=None if signing is None else KeyRing([signing]),
        issuer=ISSUER,
        audience=AUDIENCE,
        # Unsigned RSA-OAEP tokens are the one case the defaults refuse.
        allow_unsigned=signing is None and scenario.decryption_key.is_public_key_management,
    )
    return decoder.decode


def python_jose(scenario: Scenario) -> Decode:
    # The key objects python-jose would otherwise parse from PEM or JWK on
    # every call are handed over ready-made.
    material = scenario.decryption_key.material
    verifier = None if scenario.signing_key is None else scenario.signing_key.material.public_key()

    def decode(token: str) -> Mapping[str, Any]:
        payload = jose_jwe.decrypt(token, material)
        if verifier is not None:
            payload = jose_jws.verify(payload, verifier, algorithms=["ES256"])
        return check_claims(json.loads(payload))

    return decode


def joserfc(scenario: Scenario) -> Decode:
    key = scenario.decryption_key
    imported: Any = (
        OctKey.import_key(key.material) if key.is_symmetric
        else RSAKey.import_key(key.private_jwk())
    )
    registry = JWERegistry(algorithms=[key.alg, "A256GCM"])
    signatures = JWSRegistry(algorithms=["ES256"])
    verifier = None if scenario.signing_key is None else ECKey.import_key(
        scenario.signing_key.public_jwk()
    )
    claim_rules = rfc_jwt.JWTClaimsRegistry(
        leeway=LEEWAY, iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": AUDIENCE}, exp={"essential": True},
    )

    def decode(token: str) -> Mapping[str, Any]:
        plaintext = rfc_jwe.decrypt_compact(token, imported, registry=registry).plaintext
        assert plaintext is not None
        if verifier is None:
            claims = json.loads(plaintext)
        else:
            claims = rfc_jwt.decode(plaintext, verifier, registry=signatures).claims
        claim_rules.validate(claims)
        return claims

    return decode


def jwcrypto_(scenario: Scenario) -> Decode:
    key = scenario.decryption_key
    imported = (
        jwcrypto.jwk.JWK(kty="oct", k=_b64encode(key.material)) if key.is_symmetric
        else jwcrypto.jwk.JWK.from_pyca(key.material)
    )
    algs = [key.alg, "A256GCM"]
    rules = {"iss": ISSUER, "aud": AUDIENCE, "exp": None}
    signing = scenario.signing_key
    verifier = None if signing is None else jwcrypto.jwk.JWK.from_pyca(
        signing.material.public_key()
    )

    def decode(token: str) -> Mapping[str, Any]:
        # jwcrypto checks exp and nbf itself, with its own 60 s leeway.
        if verifier is None:
            outer = jwcrypto.jwt.JWT(jwt=token, key=imported, algs=algs, check_claims=rules)
            return json.loads(outer.claims)
        outer = jwcrypto.jwt.JWT(jwt=token, key=imported, algs=algs, check_claims=False)
        inner = jwcrypto.jwt.JWT(jwt=outer.claims, key=verifier, algs=["ES256"], check_claims=rules)
        return json.loads(inner.claims)

    return decode


def floor(scenario: Scenario) -> Decode:
    unwrap = _floor_unwrap(scenario.decryption_key.alg, scenario.decryption_key.material)
    signing = scenario.signing_key
    verifier = None if signing is None else signing.material.public_key()

    def decode(token: str) -> Mapping[str, Any]:
        raw = token.encode("ascii")
        header, encrypted_key, iv, ciphertext, tag = raw.split(b".")
        json.loads(_b64decode(header))
        aead = unwrap(_b64decode(encrypted_key))
        plaintext = aead.decrypt(_b64decode(iv), _b64decode(ciphertext) + _b64decode(tag), header)
        if verifier is not None:
            plaintext = _floor_verify(verifier, plaintext)
        return json.loads(plaintext)

    return decode


_OAEP_256 = padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)


def _floor_unwrap(alg: str, material: Any) -> Callable[[bytes], AESGCM]:
    if alg == "dir":
        # The content key never changes, so even the AESGCM object is reused.
        fixed = AESGCM(material)
        return lambda _: fixed
    if alg == "A256KW":
        return lambda wrapped: AESGCM(aes_key_unwrap(material, wrapped))
    return lambda wrapped: AESGCM(material.decrypt(wrapped, _OAEP_256))


def _floor_verify(public_key: Any, jws: bytes) -> bytes:
    header, payload, signature = jws.split(b".")
    json.loads(_b64decode(header))
    raw = _b64decode(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public_key.verify(der, header + b"." + payload, ec.ECDSA(hashes.SHA256()))
    return _b64decode(payload)


def _b64decode(segment: bytes) -> bytes:
    return base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def check_claims(claims: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """The claim checks ours makes, written out for python-jose, which has none for JWE."""
    now = time.time() if now is None else now
    if not isinstance(claims.get("exp"), int | float) or now >= claims["exp"] + LEEWAY:
        raise ValueError("expired")
    for name in ("nbf", "iat"):
        if name in claims and now + LEEWAY < claims[name]:
            raise ValueError(f"{name} in the future")
    if claims.get("iss") != ISSUER:
        raise ValueError("issuer")
    aud = claims.get("aud")
    if AUDIENCE not in ([aud] if isinstance(aud, str) else aud or []):
        raise ValueError("audience")
    return claims


BUILDERS: dict[str, Callable[[Scenario], Decode]] = {
    "ours": ours,
    "python-jose": python_jose,
    "joserfc": joserfc,
    "jwcrypto": jwcrypto_,
    "floor": floor,
}


# Timing.


def time_round(decode: Decode, tokens: tuple[str, ...], iterations: int) -> float:
    """Mean nanoseconds per token over ``iterations`` decodes."""
    batch = (tokens * (iterations // len(tokens) + 1))[:iterations]
    # A collection set off by one contender's garbage would be billed to
    # whichever contender runs next.
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter_ns()
        for token in batch:
            decode(token)
        elapsed = time.perf_counter_ns() - start
    finally:
        gc.enable()
    return elapsed / iterations


def measure(
    contenders: Mapping[str, Decode], tokens: tuple[str, ...], settings: Settings
) -> dict[str, list[float]]:
    """Microseconds per token, one sample per round, for each contender."""
    iterations = {}
    for name, decode in contenders.items():
        # The first pass over the tokens warms up and sizes the rounds.
        per_token = time_round(decode, tokens, len(tokens))
        iterations[name] = max(len(tokens), int(settings.round_seconds * 1e9 / per_token))
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(settings.repeat):
        for name, decode in contenders.items():
            samples[name].append(time_round(decode, tokens, iterations[name]))
    return {name: [value / 1000 for value in values] for name, values in samples.items()}


def medians(samples: Mapping[str, list[float]]) -> dict[str, float]:
    return {name: statistics.median(values) for name, values in samples.items()}


def check_agreement(contenders: Mapping[str, Decode], scenario: Scenario) -> None:
    """Refuse to time a contender that decodes wrongly or accepts a forgery."""
    expected = dict(contenders["ours"](scenario.tokens[0]))
    forged = _tamper(scenario.tokens[0])
    for name, decode in contenders.items():
        if dict(decode(scenario.tokens[0])) != expected:
            raise SystemExit(f"{name} decodes {scenario.name} differently")
        try:
            decode(forged)
        except Exception:
            continue
        raise SystemExit(f"{name} accepted a tampered {scenario.name} token")


def _tamper(token: str) -> str:
    parts = token.split(".")
    middle = len(parts[3]) // 2
    flipped = "A" if parts[3][middle] != "A" else "B"
    parts[3] = parts[3][:middle] + flipped + parts[3][middle + 1 :]
    return ".".join(parts)


def run_scenarios(results: Results) -> None:
    for scenario in build_scenarios():
        contenders = {name: build(scenario) for name, build in BUILDERS.items()}
        check_agreement(contenders, scenario)
        results.samples[scenario.name] = measure(contenders, scenario.tokens, results.settings)


def run_reference(results: Results) -> None:
    secret = b"reference-secret-of-32-bytes-abc"

    def decode(token: str) -> Mapping[str, Any]:
        return pyjwt.decode(
            token, secret, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER,
            leeway=LEEWAY, options={"require": ["exp"]},
        )

    samples = measure({"PyJWT HS256": decode}, hs256_tokens(secret), results.settings)
    results.reference = medians(samples)


def run_cache(results: Results) -> None:
    """Hit and miss cost of ``TokenCache``, and bytes per cached dir token."""
    key = generate_key("dir", kid="dir-1")
    tokens = mint(key, None, results.settings.cache_entries)
    decoder = TokenDecoder(decryption_keys=KeyRing([key]), issuer=ISSUER, audience=AUDIENCE)
    version = (decoder.decryption_keys, decoder.verification_keys)
    cache = TokenCache(max_entries=len(tokens), max_age=3600)

    tracemalloc.start()
    decoded = [decoder.decode_token(token) for token in tokens]
    claims_bytes = tracemalloc.get_traced_memory()[0]
    for token, value in zip(tokens, decoded, strict=True):
        cache.put(token, value, version)
    cache_bytes = tracemalloc.get_traced_memory()[0] - claims_bytes
    del decoded
    total_bytes = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()

    def lookup(token: str) -> Any:
        return cache.get(token, (decoder.decryption_keys, decoder.verification_keys))

    absent = mint(key, None, 64)
    results.cache = {
        "entries": len(tokens),
        "hit_us": medians(measure({"hit": lookup}, tokens[:64], results.settings))["hit"],
        "miss_us": medians(measure({"miss": lookup}, absent, results.settings))["miss"],
        "cache_bytes_per_entry": cache_bytes / len(tokens),
        "total_bytes_per_entry": total_bytes / len(tokens),
    }


# Reporting.


def machine() -> dict[str, str]:
    model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            model = next(
                (line.split(":", 1)[1].strip() for line in info if line.startswith("model name")),
                model,
            )
    except OSError:
        pass
    versions = {
        name: metadata.version(name)
        for name in ("cryptography", "python-jose", "joserfc", "jwcrypto", "PyJWT")
    }
    return {
        "cpu": model,
        "cpus": str(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"),
        "python": platform.python_version(),
        **versions,
    }


RATIOS = (("ours", "python-jose"), ("ours", "floor"), ("joserfc", "ours"), ("jwcrypto", "ours"))


def ratios(samples: Mapping[str, list[float]]) -> dict[str, float]:
    """Each ratio is the median of its per-round ratios.

    Two contenders of one round ran moments apart, so their ratio is spared
    the drift of a shared machine that separates one round from the next.
    """
    return {
        f"{top}/{bottom}": statistics.median(
            a / b for a, b in zip(samples[top], samples[bottom], strict=True)
        )
        for top, bottom in RATIOS
    }


def targets(samples: Mapping[str, Mapping[str, list[float]]]) -> dict[str, tuple[bool, str]]:
    by_row = {name: ratios(row) for name, row in samples.items()}
    dir_ratio = by_row["dir + A256GCM"]["ours/python-jose"]
    slowest_rival = min(
        min(row["joserfc/ours"], row["jwcrypto/ours"]) for row in by_row.values()
    )
    rsa = {name: row["ours/floor"] for name, row in by_row.items() if "RSA" in name}
    worst_rsa = max(rsa.values())
    return {
        "cold dir decode <= 1.3x python-jose": (dir_ratio <= 1.3, f"{dir_ratio:.2f}x"),
        "faster than joserfc and jwcrypto on every row": (
            slowest_rival > 1.0, f"closest rival at {slowest_rival:.2f}x ours"
        ),
        "RSA-OAEP rows within 1.1x of the floor": (
            worst_rsa <= 1.1, ", ".join(f"{name}: {value:.3f}x" for name, value in rsa.items())
        ),
    }


def render(results: Results) -> str:
    head = ["scenario (µs/token)", *CONTENDERS, *(f"{top}/{bottom}" for top, bottom in RATIOS)]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for scenario, samples in results.samples.items():
        row = medians(samples)
        cells = [f"{row[name]:.1f}" for name in CONTENDERS]
        cells += [f"{value:.2f}" for value in ratios(samples).values()]
        lines.append(f"| {scenario} | " + " | ".join(cells) + " |")
    for name, value in results.reference.items():
        lines.append(f"| {name}, no encryption (reference) | {value:.1f} |" + " |" * 8)
    cache = results.cache
    lines += [
        "",
        f"TokenCache: hit {cache['hit_us']:.2f} µs, miss {cache['miss_us']:.2f} µs; "
        f"{cache['cache_bytes_per_entry']:.0f} bytes per entry for the cache itself, "
        f"{cache['total_bytes_per_entry']:.0f} with the decoded claims "
        f"({cache['entries']:.0f} dir tokens, 8 claims each).",
        "",
        *(
            f"{'met   ' if met else 'MISSED'} {target}: {detail}"
            for target, (met, detail) in targets(results.samples).items()
        ),
        "",
        "; ".join(f"{name} {value}" for name, value in machine().items()),
    ]
    return "\n".join(lines)


def as_json(results: Results) -> dict[str, Any]:
    return {
        "unit": "microseconds per token, median of rounds; ratios: median of per-round ratios",
        "settings": asdict(results.settings),
        "machine": machine(),
        "rows": {
            name: {**medians(samples), **ratios(samples)}
            for name, samples in results.samples.items()
        },
        "fastest_round": {
            name: {contender: min(values) for contender, values in samples.items()}
            for name, samples in results.samples.items()
        },
        "reference": results.reference,
        "cache": results.cache,
        "targets": {name: {"met": met, "detail": detail}
                    for name, (met, detail) in targets(results.samples).items()},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.decode", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="seconds-long smoke run")
    parser.add_argument("--repeat", type=int, help="rounds per contender; the median is kept")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)

    settings = QUICK if args.quick else FULL
    if args.repeat is not None:
        if args.repeat < 1:
            parser.error("--repeat must be at least 1")
        settings = Settings(args.repeat, settings.round_seconds, settings.cache_entries)
    results = Results(settings)
    run_scenarios(results)
    run_reference(results)
    run_cache(results)

    print(render(results))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(as_json(results), out, indent=2)


if __name__ == "__main__":
    main()
