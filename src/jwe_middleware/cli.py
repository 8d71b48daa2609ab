"""``jwe-middleware``: generate keys, issue a token, inspect a token.

Exit codes: 0 when the command did its work (and a token, if checked, is
valid), 1 when the token is invalid, 2 for usage errors and unreadable files
or keys. Errors are one line on stderr.

Claims and tokens carry personal data, and command lines end up in shell
history and process lists: prefer ``--claims @file`` and ``inspect -``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

# The exit codes stay importable from here, next to the docstring that
# documents them.
from ._cli_io import EXIT_INVALID as EXIT_INVALID
from ._cli_io import EXIT_OK as EXIT_OK
from ._cli_io import EXIT_USAGE, CommandError
from ._cli_keygen import keygen_command
from ._cli_tokens import inspect_command, issue_command

__all__ = ["main"]

_KEYGEN_ALGORITHMS = ("RSA-OAEP-256", "A256KW", "dir", "ES256")
# Ten years: longer than any bearer token should live, and far inside the
# times the decoder accepts, so a long lifetime is refused here and never
# minted into a token that no decoder takes.
_MAX_LIFETIME = 10 * 365 * 24 * 3600
_PROGRAM = "jwe-middleware"

if TYPE_CHECKING:
    _Commands = argparse._SubParsersAction[argparse.ArgumentParser]


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command: Callable[[argparse.Namespace], int] = args.command
    try:
        return command(args)
    except CommandError as exc:
        print(f"{_PROGRAM}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _positive_seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"not a positive number of seconds: {value!r}")
    return seconds


def _lifetime(value: str) -> float:
    seconds = _positive_seconds(value)
    if seconds > _MAX_LIFETIME:
        raise argparse.ArgumentTypeError(
            f"at most {_MAX_LIFETIME} seconds (ten years), not {value!r}"
        )
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
    keygen.add_argument(
        "--out",
        required=True,
        metavar="PRIVATE.json",
        help="private JWK set, written with mode 0600",
    )
    keygen.add_argument(
        "--public-out", metavar="PUBLIC.json", help="public JWK set (RSA-OAEP-256 and ES256 only)"
    )
    keygen.add_argument("--force", action="store_true", help="overwrite existing files")
    keygen.set_defaults(command=keygen_command)


def _add_issue(commands: _Commands) -> None:
    issue = commands.add_parser("issue", help="print a signed, then encrypted token")
    issue.add_argument(
        "--encryption-key",
        required=True,
        metavar="FILE",
        help="JWK set holding the recipient's encryption key",
    )
    issue.add_argument("--kid", help="which encryption key, if FILE holds several")
    issue.add_argument(
        "--signing-key", metavar="FILE", help="JWK set holding the private signing key"
    )
    issue.add_argument("--signing-kid", help="which signing key, if FILE holds several")
    issue.add_argument(
        "--claims",
        default="{}",
        metavar="JSON|@FILE",
        help="a JSON object, or @path of a file holding one",
    )
    issue.add_argument(
        "--lifetime", type=_lifetime, default=900.0, metavar="SECONDS",
        help="seconds until exp (default 900, at most ten years)",
    )
    _add_claim_rules(issue)
    issue.set_defaults(command=issue_command)


def _add_inspect(commands: _Commands) -> None:
    inspect = commands.add_parser("inspect", help="show a token's header, check it")
    inspect.add_argument("token", metavar="TOKEN|-", help="the token, or - to read stdin")
    inspect.add_argument("--decryption-keys", metavar="FILE")
    inspect.add_argument("--verification-keys", metavar="FILE")
    inspect.add_argument(
        "--reveal", action="store_true", help="print claim values, not only their names"
    )
    inspect.add_argument(
        "--at", type=_positive_seconds, metavar="EPOCH_SECONDS",
        help="check the times as of this moment instead of now",
    )
    _add_claim_rules(inspect)
    inspect.set_defaults(command=inspect_command)


def _add_claim_rules(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--issuer", help="the iss claim")
    parser.add_argument("--audience", action="append", help="an aud value (repeatable)")


if __name__ == "__main__":
    raise SystemExit(main())
