"""What the command-line commands share: exit codes, the one-line usage
error, and reading the files a command is given.
"""

from __future__ import annotations

import json
from pathlib import Path

from .keys import KeyRing

__all__ = [
    "EXIT_INVALID",
    "EXIT_OK",
    "EXIT_USAGE",
    "CommandError",
    "json_reason",
    "load_ring",
    "read_text",
]

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2


class CommandError(Exception):
    """A usage error or an unreadable file: one line on stderr, exit code 2."""


def load_ring(path: str) -> KeyRing:
    text = read_text(path)
    try:
        return KeyRing.from_json(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"{path}: not JSON ({json_reason(exc)})") from exc
    except (ValueError, TypeError, KeyError, RecursionError) as exc:
        raise CommandError(f"{path}: not a usable JWK set: {exc}") from exc


def read_text(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CommandError(f"{path}: not UTF-8 text") from exc
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from exc


def json_reason(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"line {exc.lineno}, column {exc.colno}"
    return "invalid"
