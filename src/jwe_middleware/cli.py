"""``jwe-middleware``: generate keys, issue a token, inspect a token.

Exit codes: 0 when the command did its work (and a token, if checked, is
valid), 1 when the token is invalid, 2 for usage errors and unreadable files
or keys. Errors are one line on stderr.

Claims and tokens carry personal data, and command lines end up in shell
history and process lists: prefer ``--claims @file`` and ``inspect -``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._compact import split_jwe
from ._errors import TokenError
from .claims import Claims
from .decoder import DecodedToken, TokenDecoder
from .issuer import TokenIssuer
from .keys import Key, KeyRing, generate_key

__all__ = ["main"]

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2

_KEYGEN_ALGORITHMS = ("RSA-OAEP-256", "A256KW", "dir", "ES256")
_SYMMETRIC = frozenset({"A256KW", "dir"})
_PROGRAM = "jwe-middleware"

if TYPE_CHECKING:
    _Commands = argparse._SubParsersAction[argparse.ArgumentParser]


class _CommandError(Exception):
    """A usage error or an unreadable file: one line on stderr, exit code 2."""


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command: Callable[[argparse.Namespace], int] = args.command
    try:
        return command(args)
    except _CommandError as exc:
        print(f"{_PROGRAM}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


# -- keygen --------------------------------------------------------------------


def _keygen(args: argparse.Namespace) -> int:
    if args.public_out is not None and args.alg in _SYMMETRIC:
        raise _CommandError(f"--public-out: an {args.alg} key is a secret, with no public half")
    key = generate_key(args.alg, kid=args.kid or _default_kid(args.alg))
    ring = KeyRing([key])
    targets = [(Path(args.out), ring.private_jwks(), 0o600)]
    if args.public_out is not None:
        targets.append((Path(args.public_out), ring.public_jwks(), 0o644))
    _check_targets([path for path, _, _ in targets], force=args.force)

    for path, document, mode in targets:
        _write_json(path, document, mode=mode, force=args.force)
        print(f"wrote {path}")
    print(f"kid: {key.kid}")
    return EXIT_OK


def _default_kid(alg: str) -> str | None:
    # Left alone, a key's kid is its RFC 7638 thumbprint. For a secret key
    # that is a hash of the secret, sent in every token header; a random
    # kid says nothing about the key.
    return secrets.token_urlsafe(12) if alg in _SYMMETRIC else None


def _check_targets(paths: list[Path], *, force: bool) -> None:
    # Checked before anything is written, so a refusal leaves no half pair.
    if len({path.resolve() for path in paths}) != len(paths):
        raise _CommandError("--out and --public-out name the same file")
    for path in paths:
        if path.exists() and not force:
            raise _CommandError(f"{path} exists; pass --force to overwrite it")


def _write_json(path: Path, document: dict[str, Any], *, mode: int, force: bool) -> None:
    data = (json.dumps(document, indent=2) + "\n").encode("utf-8")
    try:
        if force:
            _replace_file(path, data, mode)
        else:
            _create_file(path, data, mode)
    except FileExistsError as exc:
        raise _CommandError(f"{path} exists; pass --force to overwrite it") from exc
    except OSError as exc:
        raise _CommandError(f"cannot write {path}: {exc.strerror}") from exc


def _create_file(path: Path, data: bytes, mode: int) -> None:
    # The mode is set as the file is created, so a private key is never
    # readable by others, not even for a moment; O_EXCL refuses to follow
    # or replace anything already there.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)


def _replace_file(path: Path, data: bytes, mode: int) -> None:
    # An existing file keeps its mode when truncated, which may be too
    # open; a fresh file (mkstemp makes it 0600) renamed over it does not.
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as file:
            os.fchmod(file.fileno(), mode)
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


# -- issue ---------------------------------------------------------------------


def _issue(args: argparse.Namespace) -> int:
    encryption = _pick_key(args.encryption_key, args.kid, use="enc", option="--kid")
    signing = None
    if args.signing_key is not None:
        signing = _pick_key(args.signing_key, args.signing_kid, use="sig", option="--signing-kid")
    elif not encryption.is_symmetric:
        # RFC 7519 section 11.2: with a public encryption key anyone can
        # mint an encrypted token; only a signature says who made it.
        raise _CommandError("an RSA-OAEP token must be signed: pass --signing-key")
    claims = _claims_argument(args.claims)
    try:
        issuer = TokenIssuer(
            encryption_key=encryption,
            signing_key=signing,
            issuer=args.issuer,
            audience=_audience(args.audience),
            lifetime=args.lifetime,
        )
    except (ValueError, TypeError) as exc:
        raise _CommandError(str(exc)) from exc
    print(issuer.issue(claims))
    return EXIT_OK


def _pick_key(path: str, kid: str | None, *, use: str, option: str) -> Key:
    role = "encryption" if use == "enc" else "private signing"
    keys = [
        key for key in _load_ring(path)
        if key.use == use and (use == "enc" or key.is_private) and kid in (None, key.kid)
    ]
    if not keys:
        named = "" if kid is None else f" with kid {kid!r}"
        raise _CommandError(f"{path}: no {role} key{named}")
    if len(keys) > 1:
        raise _CommandError(f"{path} holds several {role} keys; choose one with {option}")
    return keys[0]


def _claims_argument(value: str) -> dict[str, Any]:
    source, text = "--claims", value
    if value.startswith("@"):
        source, text = value[1:], _read_text(value[1:])
    try:
        claims = json.loads(text)
    except ValueError as exc:
        raise _CommandError(f"{source}: not JSON ({_json_reason(exc)})") from exc
    if not isinstance(claims, dict):
        raise _CommandError(f"{source}: the claims must be a JSON object")
    return claims


def _audience(values: list[str] | None) -> str | list[str] | None:
    if not values:
        return None
    return values[0] if len(values) == 1 else values


# -- inspect -------------------------------------------------------------------


def _inspect(args: argparse.Namespace) -> int:
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
                raise _CommandError(f"{option} needs --decryption-keys")


def _token_argument(value: str) -> str:
    token = sys.stdin.read() if value == "-" else value
    return token.strip()


def _decoder(args: argparse.Namespace) -> TokenDecoder:
    decryption = _load_ring(args.decryption_keys)
    verification = None if args.verification_keys is None else _load_ring(args.verification_keys)
    if verification is None and any(_opens_rsa_oaep(key) for key in decryption):
        raise _CommandError("RSA-OAEP tokens must be signed: pass --verification-keys")
    try:
        return TokenDecoder(
            decryption_keys=decryption,
            verification_keys=verification,
            issuer=args.issuer,
            audience=_audience(args.audience),
        )
    except (ValueError, TypeError) as exc:
        raise _CommandError(str(exc)) from exc


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


# -- files and arguments -------------------------------------------------------


def _load_ring(path: str) -> KeyRing:
    text = _read_text(path)
    try:
        return KeyRing.from_json(text)
    except json.JSONDecodeError as exc:
        raise _CommandError(f"{path}: not JSON ({_json_reason(exc)})") from exc
    except (ValueError, TypeError, KeyError, RecursionError) as exc:
        raise _CommandError(f"{path}: not a usable JWK set: {exc}") from exc


def _read_text(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise _CommandError(f"{path}: not UTF-8 text") from exc
    except OSError as exc:
        raise _CommandError(f"cannot read {path}: {exc.strerror}") from exc


def _json_reason(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"line {exc.lineno}, column {exc.colno}"
    return "invalid"


def _positive_seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"not a positive number of seconds: {value!r}")
    return seconds


def _parser() -> argparse.ArgumentParser:
    description = "Generate keys, issue a token, inspect a token."
    parser = argparse.ArgumentParser(prog=_PROGRAM, description=description)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    _add_keygen(commands)
    _add_issue(commands)
    _add_inspect(commands)
    return parser


def _add_keygen(commands: _Commands) -> None:
    keygen = commands.add_parser("keygen", help="generate a key")
    keygen.add_argument("--alg", required=True, choices=_KEYGEN_ALGORITHMS)
    keygen.add_argument("--kid", help="key id (default: thumbprint, or random for secrets)")
    keygen.add_argument("--out", required=True, metavar="PRIVATE.json",
                        help="private JWK set, written with mode 0600")
    keygen.add_argument("--public-out", metavar="PUBLIC.json",
                        help="public JWK set (RSA-OAEP-256 and ES256 only)")
    keygen.add_argument("--force", action="store_true", help="overwrite existing files")
    keygen.set_defaults(command=_keygen)


def _add_issue(commands: _Commands) -> None:
    issue = commands.add_parser("issue", help="print a signed, then encrypted token")
    issue.add_argument("--encryption-key", required=True, metavar="FILE",
                       help="JWK set holding the recipient's encryption key")
    issue.add_argument("--kid", help="which encryption key, if FILE holds several")
    issue.add_argument("--signing-key", metavar="FILE",
                       help="JWK set holding the private signing key")
    issue.add_argument("--signing-kid", help="which signing key, if FILE holds several")
    issue.add_argument("--claims", default="{}", metavar="JSON|@FILE",
                       help="a JSON object, or @path of a file holding one")
    issue.add_argument("--lifetime", type=_positive_seconds, default=900.0,
                       metavar="SECONDS")
    _add_claim_rules(issue)
    issue.set_defaults(command=_issue)


def _add_inspect(commands: _Commands) -> None:
    inspect = commands.add_parser("inspect", help="show a token's header, check it")
    inspect.add_argument("token", metavar="TOKEN|-", help="the token, or - to read stdin")
    inspect.add_argument("--decryption-keys", metavar="FILE")
    inspect.add_argument("--verification-keys", metavar="FILE")
    inspect.add_argument("--reveal", action="store_true",
                         help="print claim values, not only their names")
    _add_claim_rules(inspect)
    inspect.set_defaults(command=_inspect)


def _add_claim_rules(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--issuer", help="the iss claim")
    parser.add_argument("--audience", action="append", help="an aud value (repeatable)")


if __name__ == "__main__":
    raise SystemExit(main())
