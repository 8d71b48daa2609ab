"""The ``keygen`` command: generate a key, write its JWK set files."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

from ._cli_io import EXIT_OK, CommandError
from .keys import KeyRing, generate_key

__all__ = ["keygen_command"]

_SYMMETRIC = frozenset({"A256KW", "dir"})


def keygen_command(args: argparse.Namespace) -> int:
    if args.public_out is not None and args.alg in _SYMMETRIC:
        raise CommandError(f"--public-out: an {args.alg} key is a secret, with no public half")
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
        raise CommandError("--out and --public-out name the same file")
    for path in paths:
        if path.exists() and not force:
            raise CommandError(f"{path} exists; pass --force to overwrite it")


def _write_json(path: Path, document: dict[str, Any], *, mode: int, force: bool) -> None:
    data = (json.dumps(document, indent=2) + "\n").encode("utf-8")
    try:
        if force:
            _replace_file(path, data, mode)
        else:
            _create_file(path, data, mode)
    except FileExistsError as exc:
        raise CommandError(f"{path} exists; pass --force to overwrite it") from exc
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror}") from exc


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
