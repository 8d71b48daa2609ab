"""The panva/jose peer: ``peer.mjs`` run by node, one batch per process."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from ._base import Claims, Jwk, MintSpec, OpenSpec, PeerError

__all__ = ["NodeJosePeer", "node_available"]

INTEROP_DIR = Path(__file__).resolve().parent
PEER_SCRIPT = INTEROP_DIR / "peer.mjs"
JOSE_PACKAGE = INTEROP_DIR / "node_modules" / "jose" / "package.json"
TIMEOUT_SECONDS = 30
MISSING_REASON = "needs node and tests/interop/node_modules (run `npm ci` in tests/interop)"


def node_available() -> bool:
    """True when a ``node`` binary is on PATH and ``npm ci`` has installed jose."""
    return shutil.which("node") is not None and JOSE_PACKAGE.is_file()


class NodeJosePeer:
    """panva/jose under node; ``open_many`` decrypts a whole batch in one process."""

    name = "node-jose"

    def mint(self, specs: Sequence[MintSpec]) -> list[str]:
        items = [_mint_item(spec) for spec in specs]
        tokens = self._call("mint", items)["tokens"]
        if not isinstance(tokens, list):
            raise PeerError(self.name, "answer has no token list")
        return [str(token) for token in tokens]

    def open(self, token: str, dec_jwk: Jwk, verify_jwk: Jwk | None = None) -> Claims:
        (opened,) = self.open_many([OpenSpec(token, dec_jwk, verify_jwk)])
        if isinstance(opened, PeerError):
            raise opened
        return opened

    def open_many(self, items: Sequence[OpenSpec]) -> list[Claims | PeerError]:
        results = self._call("open", [dataclasses.asdict(item) for item in items])["results"]
        if not isinstance(results, list) or len(results) != len(items):
            raise PeerError(self.name, "answer does not hold one result per item")
        return [self._result(result) for result in results]

    def _result(self, result: object) -> Claims | PeerError:
        if not isinstance(result, dict):
            return PeerError(self.name, "answer holds a result that is not an object")
        if "error" in result:
            return PeerError(self.name, str(result["error"]))
        claims = result.get("claims")
        if not isinstance(claims, dict):
            return PeerError(self.name, "answer has no claims object")
        return claims

    def _call(self, op: str, items: list[dict[str, object]]) -> dict[str, object]:
        node = shutil.which("node")
        if node is None or not JOSE_PACKAGE.is_file():
            raise PeerError(self.name, MISSING_REASON)
        request = json.dumps({"op": op, "items": items})
        try:
            done = subprocess.run(
                [node, str(PEER_SCRIPT)],
                input=request,
                capture_output=True,
                text=True,
                timeout=TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise PeerError(self.name, f"no answer within {TIMEOUT_SECONDS} s") from error
        return self._answer(done)

    def _answer(self, done: subprocess.CompletedProcess[str]) -> dict[str, object]:
        try:
            answer = json.loads(done.stdout)
        except ValueError as error:
            detail = done.stderr.strip() or done.stdout.strip() or f"exit {done.returncode}"
            raise PeerError(self.name, f"unreadable answer: {detail}") from error
        if not isinstance(answer, dict):
            raise PeerError(self.name, "answer is not a JSON object")
        if done.returncode != 0 or "error" in answer:
            raise PeerError(self.name, str(answer.get("error", f"exit {done.returncode}")))
        return answer


def _mint_item(spec: MintSpec) -> dict[str, object]:
    # The wire format omits absent options rather than sending nulls.
    return {name: value for name, value in dataclasses.asdict(spec).items() if value is not None}
