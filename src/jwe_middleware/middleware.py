"""``JWEMiddleware``: the request flow, and nothing else.

    scope ─► transport ─► exempt? ─► extract ─► authenticate ─► state ─► app

A pure ASGI class: bodies are never buffered, streaming responses and
background tasks pass through untouched, websockets get the same checks, and
lifespan messages go straight to the app.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._authenticate import Authenticator
from ._errors import AmbiguousCredentials, RevocationUnavailable, TokenError
from ._extract import TokenExtractor
from ._paths import PathMatcher
from ._responses import ErrorBody, Rejection, Rejections
from ._state import attach_anonymous, attach_claims
from ._transport import TransportPolicy
from .decoder import TokenDecoder
from .revocation import RevocationStore
from .telemetry import AuthEvent

__all__ = ["JWEMiddleware"]

logger = logging.getLogger("jwe_middleware")

_DEFAULT_HSTS = "max-age=63072000; includeSubDomains"


class JWEMiddleware:
    """Refuse plain HTTP, then require a valid encrypted token on every path
    that is not exempt, and put its claims on ``request.state.claims``.

    Pass a ready ``decoder=TokenDecoder(...)``, or the decoder's keyword
    arguments (``decryption_keys=...``, ``issuer=...``) directly.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        decoder: TokenDecoder | None = None,
        exempt_paths: Iterable[str] = (),
        insecure_paths: Iterable[str] = (),
        trusted_proxies: Iterable[str] = (),
        hsts: str | None = _DEFAULT_HSTS,
        cookie_name: str | None = None,
        optional: bool = False,
        realm: str = "api",
        revocation: RevocationStore | None = None,
        revoke_exposed_tokens: bool = True,
        revocation_failure: str = "closed",
        cache_size: int = 10_000,
        cache_max_age: float = 300.0,
        error_body: ErrorBody | None = None,
        on_event: Callable[[AuthEvent], None] | None = None,
        **decoder_options: Any,
    ) -> None:
        self.app = app
        self._decoder = _build_decoder(decoder, decoder_options)
        self._exempt = PathMatcher(exempt_paths)
        self._insecure_ok = _insecure_matcher(insecure_paths, self._exempt)
        self._transport = TransportPolicy(trusted_proxies=trusted_proxies, hsts=hsts)
        self._extractor = TokenExtractor(cookie_name=cookie_name)
        self._optional = bool(optional)
        self._rejections = Rejections(realm, error_body)
        self._revoke_exposed = bool(revoke_exposed_tokens) and revocation is not None
        if revocation_failure not in ("closed", "open"):
            raise ValueError("revocation_failure must be 'closed' or 'open'")
        if revocation is not None and not isinstance(revocation, RevocationStore):
            raise TypeError("revocation must be a RevocationStore (revoke and is_revoked)")
        if on_event is not None and not callable(on_event):
            raise TypeError("on_event must be callable")
        self._authenticator = Authenticator(
            self._decoder,
            revocation,
            cache_size=cache_size,
            cache_max_age=cache_max_age,
            fail_open=revocation_failure == "open",
        )
        self._on_event = on_event

    @property
    def decoder(self) -> TokenDecoder:
        return self._decoder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        path = scope["path"]
        if not self._transport.is_secure(scope):
            await self._plain_transport(scope, receive, send, path)
            return
        send = self._with_hsts(scope, send)

        if self._exempt.matches(path):
            await self.app(scope, receive, send)
            return
        await self._authenticate(scope, receive, send)

    async def _plain_transport(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        await self._report_exposure(scope)
        if self._insecure_ok.matches(path):
            await self.app(scope, receive, send)
            return
        await self._refuse(self._rejections.insecure, "insecure_transport", scope, receive, send)

    async def _authenticate(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            token = self._extractor.extract(scope["headers"])
        except AmbiguousCredentials as exc:
            await self._refuse(self._rejections.bad_request, exc.code, scope, receive, send)
            return

        if token is None:
            if not self._optional:
                await self._refuse(self._rejections.missing, "missing_token", scope, receive, send)
                return
            attach_anonymous(scope)
            await self.app(scope, receive, send)
            return

        rejection = await self._verify_and_attach(scope, token)
        if rejection is not None:
            await rejection.send(scope["type"], receive, send)
            return
        await self.app(scope, receive, send)

    async def _verify_and_attach(self, scope: Scope, token: bytes) -> Rejection | None:
        try:
            outcome = await self._authenticator.authenticate(token)
        except TokenError as exc:
            self._log_rejection(exc.code, scope)
            self._emit(AuthEvent.rejected(exc, retired_kid=self._retired_kid(exc)))
            return self._rejections.invalid
        except RevocationUnavailable as exc:
            logger.error("revocation store unavailable (%s): failing closed", exc.detail)
            self._log_rejection(exc.code, scope)
            self._emit(AuthEvent.rejected(exc))
            return self._rejections.unavailable
        attach_claims(scope, outcome.decoded.claims)
        if self._on_event is not None:
            self._emit(AuthEvent.accepted_token(outcome.decoded, cached=outcome.cached))
        return None

    def _retired_kid(self, error: TokenError) -> str | None:
        kid = getattr(error, "kid", None)
        return kid if self._decoder.is_retired_kid(kid) else None

    async def _report_exposure(self, scope: Scope) -> None:
        tokens = self._extractor.candidates(scope["headers"])
        if not tokens:
            return
        # RFC 6750 section 5.3: the token crossed the network in clear and
        # must be treated as stolen. Revoking it stops its replay over TLS;
        # with two credentials in the request, both are treated as exposed.
        revoked = False
        if self._revoke_exposed:
            for token in tokens:
                revoked = await self._authenticator.revoke_exposed(token) or revoked
        logger.warning(
            "bearer token sent over plain HTTP: method=%s path=%r client=%s revoked=%s",
            scope.get("method", "WS"), scope["path"], self._transport.client_address(scope),
            revoked,
        )

    async def _refuse(
        self, rejection: Rejection, code: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        self._log_rejection(code, scope)
        if self._on_event is not None:
            self._emit(AuthEvent(accepted=False, reason=code))
        await rejection.send(scope["type"], receive, send)

    def _log_rejection(self, code: str, scope: Scope) -> None:
        logger.info(
            "request refused: reason=%s method=%s path=%r client=%s",
            code, scope.get("method", "WS"), scope["path"], self._transport.client_address(scope),
        )

    def _emit(self, event: AuthEvent) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(event)
        except Exception:
            # A metrics hook must never turn into a failed request.
            logger.exception("on_event hook raised")

    def _with_hsts(self, scope: Scope, send: Send) -> Send:
        header = self._transport.hsts_header
        if header is None or scope["type"] != "http":
            return send

        async def send_with_hsts(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = _with_header(message, header)
            await send(message)

        return send_with_hsts


def _with_header(message: Message, header: tuple[bytes, bytes]) -> Message:
    # The app's own value wins; the message is copied, never changed in place.
    headers = message.get("headers", ())
    for name, _ in headers:
        if name.lower() == header[0]:
            return message
    return {**message, "headers": [*headers, header]}


def _insecure_matcher(patterns: Iterable[str], exempt: PathMatcher) -> PathMatcher:
    # A path served over plain HTTP (a load balancer's probe) must also be
    # exempt from tokens: no token may be asked to cross in clear.
    matcher = PathMatcher(patterns)
    for pattern in matcher:
        if not exempt.covers(pattern):
            raise ValueError(f"insecure path {pattern!r} must also be in exempt_paths")
    return matcher


def _build_decoder(decoder: TokenDecoder | None, options: dict[str, Any]) -> TokenDecoder:
    if decoder is not None and options:
        raise TypeError("pass either decoder= or the decoder's options, not both")
    if decoder is not None:
        if not isinstance(decoder, TokenDecoder):
            raise TypeError("decoder must be a TokenDecoder")
        return decoder
    if "decryption_keys" not in options:
        raise TypeError("JWEMiddleware needs decoder= or decryption_keys=")
    return TokenDecoder(**options)
