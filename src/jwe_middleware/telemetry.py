"""Counts of accepted and refused tokens, for dashboards and alerts.

The middleware reports each authentication to an ``on_event`` hook as an
``AuthEvent``. ``TokenMetrics`` is a ready hook that counts accepted tokens
per decryption ``kid`` and refusals per reason code; ``PrometheusMetrics``
exports the same counts with the optional ``prometheus-client`` package.

Label values come only from this service's own key rings and reason codes,
never from what a client sent, so a client cannot blow up the label set.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

from ._errors import JWEMiddlewareError

__all__ = ["AuthEvent", "PrometheusMetrics", "TokenMetrics"]


@dataclass(frozen=True)
class AuthEvent:
    """One authentication: accepted (reason ``"ok"``) or refused (a code)."""

    accepted: bool
    reason: str
    decryption_kid: str | None = None
    signing_kid: str | None = None
    cached: bool = False
    retired_kid: str | None = None

    @classmethod
    def rejected(cls, error: JWEMiddlewareError, *, retired_kid: str | None = None) -> AuthEvent:
        """A refusal; ``retired_kid`` is set when the token named a key that
        has left the decryption or verification ring (clients still holding
        old tokens)."""
        return cls(accepted=False, reason=error.code, retired_kid=retired_kid)

    @classmethod
    def accepted_token(cls, decoded: Any, *, cached: bool) -> AuthEvent:
        return cls(True, "ok", decoded.decryption_kid, decoded.signing_kid, cached)


class TokenMetrics:
    """An ``on_event`` hook that counts events in memory.

    ``accepted`` maps a decryption kid to a count; a kid that keeps showing
    up after its key was meant to retire is a client still holding old
    tokens. ``rejected`` maps a reason code to a count.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.accepted: Counter[str] = Counter()
        self.rejected: Counter[str] = Counter()
        self.retired_presented: Counter[str] = Counter()
        self.cache_hits = 0

    def __call__(self, event: AuthEvent) -> None:
        with self._lock:
            if event.accepted:
                self.accepted[event.decryption_kid or "-"] += 1
                self.cache_hits += event.cached
            else:
                self.rejected[event.reason] += 1
                if event.retired_kid is not None:
                    self.retired_presented[event.retired_kid] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "accepted": dict(self.accepted),
                "rejected": dict(self.rejected),
                "retired_presented": dict(self.retired_presented),
                "cache_hits": self.cache_hits,
            }


class PrometheusMetrics:
    """An ``on_event`` hook that exports Prometheus counters.

    Needs the ``prometheus`` extra. Uses its own registry unless one is
    given, so several apps in one process do not collide.
    """

    def __init__(self, registry: Any = None, *, prefix: str = "jwe") -> None:
        try:
            import prometheus_client
        except ImportError as exc:
            raise ImportError("PrometheusMetrics needs jwe-middleware[prometheus]") from exc
        self._client = prometheus_client
        self.registry = registry or prometheus_client.CollectorRegistry()
        self._accepted = prometheus_client.Counter(
            f"{prefix}_tokens_accepted",
            "Tokens accepted, by the kid of the key that decrypted them.",
            ["kid", "cached"],
            registry=self.registry,
        )
        self._rejected = prometheus_client.Counter(
            f"{prefix}_tokens_rejected",
            "Requests refused, by reason code.",
            ["reason"],
            registry=self.registry,
        )
        self._retired = prometheus_client.Counter(
            f"{prefix}_retired_key_presented",
            "Tokens refused because they name a key that has been retired.",
            ["kid"],
            registry=self.registry,
        )

    def __call__(self, event: AuthEvent) -> None:
        if event.accepted:
            cached = "true" if event.cached else "false"
            self._accepted.labels(kid=event.decryption_kid or "-", cached=cached).inc()
            return
        self._rejected.labels(reason=event.reason).inc()
        if event.retired_kid is not None:
            self._retired.labels(kid=event.retired_kid).inc()

    def render(self) -> bytes:
        """The text exposition format, for a ``/metrics`` route."""
        return bytes(self._client.generate_latest(self.registry))
