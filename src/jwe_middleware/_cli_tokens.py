"""The ``issue`` and ``inspect`` commands: make a token, look into one."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from ._cli_io import EXIT_INVALID, EXIT_OK, CommandError, json_reason, load_ring, read_text
from ._compact import parse_json_object, split_jwe
from ._errors import MalformedToken, TokenError
from .claims import Claims
from .decoder import DecodedToken, TokenDecoder
from .issuer import TokenIssuer
from .keys import Key

__all__ = ["inspect_command", "issue_command"]


# -- issue ---------------------------------------------------------------------


def issue_command(args: argparse.Namespace) -> int:
    encryption = _pick_key(args.encryption_key, args.kid, use="enc", option="--kid")
    signing = None
    if args.signing_key is not None:
        signing = _pick_key(args.signing_key, args.signing_kid, use="sig", option="--signing-kid")
    elif not encryption.is_symmetric:
        # RFC 7519 section 11.2: with a public encryption key anyone can
        # mint an encrypted token; only a signature says who made it.
        raise CommandError("an RSA-OAEP token must be signed: pass --signing-key")
    claims = _claims_argument(args.claims)
    try:
        issuer = TokenIssuer(
            encryption_key=encryption,
            signing_key=signing,
            issuer=args.issuer,
            audience=_audience(args.audience),
            lifetime=args.lifetime,
        )
        token = issuer.issue(claims)
    except (ValueError, TypeError) as exc:
        raise CommandError(str(exc)) from exc
    print(token)
    return EXIT_OK


def _pick_key(path: str, kid: str | None, *, use: str, option: str) -> Key:
    role = "encryption" if use == "enc" else "private signing"
    keys = [
        key
        for key in load_ring(path)
        if key.use == use and (use == "enc" or key.is_private) and kid in (None, key.kid)
    ]
    if not keys:
        named = "" if kid is None else f" with kid {kid!r}"
        raise CommandError(f"{path}: no {role} key{named}")
    if len(keys) > 1:
        raise CommandError(f"{path} holds several {role} keys; choose one with {option}")
    return keys[0]


def _claims_argument(value: str) -> dict[str, Any]:
    source, text = "--claims", value
    if value.startswith("@"):
        source, text = value[1:], read_text(value[1:])
    try:
        # The decoder's own rules (no NaN or Infinity, no duplicate names,
        # bounded nesting): issue must not mint a token inspect refuses.
        claims = parse_json_object(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise CommandError(f"{source}: not UTF-8 text") from exc
    except MalformedToken as exc:
        raise CommandError(f"{source}: {_claims_problem(exc)}") from exc
    _check_numbers_finite(claims, source)
    return claims


def _claims_problem(exc: MalformedToken) -> str:
    cause = exc.__cause__
    if isinstance(cause, json.JSONDecodeError):
        return f"not JSON ({json_reason(cause)})"
    if isinstance(cause, RecursionError):
        return "JSON text is nested too deeply"
    if "integer string conversion" in str(cause):
        # Python's own message goes on to advise a call only a program can make.
        return "a number has too many digits"
    # The strict parser's own words: "NaN is not JSON", "duplicate member name".
    return str(cause or exc)


def _check_numbers_finite(claims: dict[str, Any], source: str) -> None:
    # A number beyond float range (1e400) parses as infinity, which would
    # go out as the bare word Infinity, not JSON (RFC 8259 section 6).
    try:
        json.dumps(claims, allow_nan=False)
    except ValueError as exc:
        raise CommandError(f"{source}: a number is out of range") from exc


def _audience(values: list[str] | None) -> str | list[str] | None:
    if not values:
        return None
    return values[0] if len(values) == 1 else values


# -- inspect -------------------------------------------------------------------


def inspect_command(args: argparse.Namespace) -> int:
    _check_inspect_options(args)
    decoder = None if args.decryption_keys is None else _decoder(args)
    token = _token_argument(args.token)
    try:
        header = split_jwe(token.encode("ascii", "replace")).header
    except TokenError as exc:
        print(f"invalid: {exc.code}")
        return EXIT_INVALID
    # The protected header travels in clear in every token (RFC 7516
    # section 7.1), so showing it reveals nothing new.
    print(f"header: {json.dumps(header, sort_keys=True)}")
    if decoder is None:
        print("not checked: pass --decryption-keys to decrypt and validate")
        return EXIT_OK
    return _check_token(decoder, token, reveal=args.reveal)


def _check_inspect_options(args: argparse.Namespace) -> None:
    if args.decryption_keys is None:
        needs_keys = {"--verification-keys": args.verification_keys, "--reveal": args.reveal}
        for option, given in needs_keys.items():
            if given:
                raise CommandError(f"{option} needs --decryption-keys")


def _token_argument(value: str) -> str:
    token = sys.stdin.read() if value == "-" else value
    return token.strip()


def _decoder(args: argparse.Namespace) -> TokenDecoder:
    decryption = load_ring(args.decryption_keys)
    verification = None if args.verification_keys is None else load_ring(args.verification_keys)
    if verification is None and any(_opens_rsa_oaep(key) for key in decryption):
        raise CommandError("RSA-OAEP tokens must be signed: pass --verification-keys")
    try:
        return TokenDecoder(
            decryption_keys=decryption,
            verification_keys=verification,
            issuer=args.issuer,
            audience=_audience(args.audience),
            clock=time.time if args.at is None else _fixed_clock(args.at),
        )
    except (ValueError, TypeError) as exc:
        raise CommandError(str(exc)) from exc


def _fixed_clock(moment: float) -> Callable[[], float]:
    return lambda: moment


def _opens_rsa_oaep(key: Key) -> bool:
    return key.is_public_key_management and key.is_private


def _check_token(decoder: TokenDecoder, token: str, *, reveal: bool) -> int:
    try:
        decoded = decoder.decode_token(token)
    except TokenError as exc:
        print(f"invalid: {exc.code}")
        return EXIT_INVALID
    print(f"valid: {_opened_by(decoded)}")
    print(_claims_report(decoded.claims, reveal=reveal))
    return EXIT_OK


def _opened_by(decoded: DecodedToken) -> str:
    opened = f"decrypted with kid {decoded.decryption_kid!r}"
    if decoded.signing_kid is None:
        return f"{opened}, not signed"
    return f"{opened}, signed with kid {decoded.signing_kid!r}"


def _claims_report(claims: Claims, *, reveal: bool) -> str:
    if reveal:
        return "claims: " + json.dumps(claims.to_dict(), indent=2, sort_keys=True)
    # Names only: the values are personal data. json.dumps escapes any
    # control characters a hostile token might carry to the terminal.
    return f"claim names (--reveal shows values): {json.dumps(sorted(claims))}"
