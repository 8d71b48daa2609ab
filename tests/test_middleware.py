"""JWEMiddleware: the request flow, over https:// and http:// side by side."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

from jwe_middleware import (
    AuthEvent,
    JWEMiddleware,
    KeyRing,
    MemoryRevocationStore,
    RevocationUnavailable,
    TokenMetrics,
)
from tests._helpers import NOW, bearer, decoder, decoder_options, keys, request, token

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

HTTPS = "https://api.test"
HTTP = "http://api.test"


async def whoami(request: Request) -> JSONResponse:
    claims = request.state.claims
    return JSONResponse({"sub": None if claims is None else claims["sub"]})


@requires("orders:read")
async def orders(request: Request) -> JSONResponse:
    return JSONResponse({"user": request.user.display_name})


async def health(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def stream(request: Request) -> StreamingResponse:
    async def chunks() -> AsyncIterator[bytes]:
        for part in (b"one,", b"two,", b"three"):
            yield part

    return StreamingResponse(chunks())


async def echo_socket(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"sub": websocket.scope["state"]["claims"]["sub"]})
    await websocket.close()


def make_app(**options: Any) -> Starlette:
    app = Starlette(
        routes=[
            Route("/me", whoami),
            Route("/orders", orders),
            Route("/health", health),
            Route("/healthz", health),
            Route("/api/health", health),
            Route("/public/{rest:path}", health),
            Route("/stream", stream),
            WebSocketRoute("/ws", echo_socket),
        ]
    )
    settings = {**decoder_options(), **options}
    app.add_middleware(JWEMiddleware, **settings)
    return app


# --- transport ---------------------------------------------------------------


def test_middleware_https_valid_token_passes_claims_to_route() -> None:
    response = request(make_app(), "GET", f"{HTTPS}/me", headers=bearer(token()))
    assert response.status_code == 200
    assert response.json() == {"sub": "alice"}
    assert response.headers["strict-transport-security"].startswith("max-age=")


@pytest.mark.parametrize("with_token", [False, True])
def test_middleware_plain_http_is_refused_not_redirected(with_token: bool) -> None:
    headers = bearer(token()) if with_token else {}
    response = request(make_app(), "GET", f"{HTTP}/me", headers=headers)
    assert response.status_code == 403
    assert response.json() == {"detail": "HTTPS is required"}
    assert "location" not in response.headers


def test_middleware_plain_http_with_token_logs_exposure_without_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    value = token()
    with caplog.at_level(logging.INFO, logger="jwe_middleware"):
        request(make_app(), "GET", f"{HTTP}/me", headers=bearer(value))
    assert "plain HTTP" in caplog.text
    assert value not in caplog.text and value[:40] not in caplog.text


@pytest.mark.parametrize(
    ("peer", "trusted", "headers", "status"),
    [
        ("10.0.0.5", ["10.0.0.0/8"], {"X-Forwarded-Proto": "https"}, 200),
        ("10.0.0.5", ["10.0.0.0/8"], {"Forwarded": "for=1.2.3.4;proto=https"}, 200),
        ("10.0.0.5", ["10.0.0.0/8"], {"X-Forwarded-Proto": "http"}, 403),
        ("10.0.0.5", [], {"X-Forwarded-Proto": "https"}, 403),
        ("203.0.113.9", ["10.0.0.0/8"], {"X-Forwarded-Proto": "https"}, 403),
        ("203.0.113.9", ["10.0.0.0/8"], {"Forwarded": "proto=https"}, 403),
        ("10.0.0.5", ["10.0.0.0/8"], {}, 403),
    ],
)
def test_middleware_forwarded_proto_believed_only_from_trusted_proxy(
    peer: str, trusted: list[str], headers: dict[str, str], status: int
) -> None:
    app = make_app(trusted_proxies=trusted)
    response = request(
        app, "GET", f"{HTTP}/me", client=(peer, 1234), headers={**headers, **bearer(token())}
    )
    assert response.status_code == status


def test_middleware_insecure_path_served_over_http_when_exempt() -> None:
    app = make_app(exempt_paths=["/health", "/public/*"], insecure_paths=["/health"])
    assert request(app, "GET", f"{HTTP}/health").status_code == 200
    assert request(app, "GET", f"{HTTP}/public/x").status_code == 403
    assert request(app, "GET", f"{HTTP}/me", headers=bearer(token())).status_code == 403


@pytest.mark.parametrize(
    ("exempt", "insecure"),
    [(["/health"], ["/health", "/me"]), (["/health"], ["/health/*"]), ([], ["/*"])],
)
def test_middleware_insecure_path_not_exempt_refused_at_start_up(
    exempt: list[str], insecure: list[str]
) -> None:
    with pytest.raises(ValueError, match="exempt_paths"):
        JWEMiddleware(health, **decoder_options(), exempt_paths=exempt, insecure_paths=insecure)


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/me", [("authorization", "Bearer {t}"), ("cookie", "session={t}")]),
        ("/me", [("authorization", "Bearer {t} trailing")]),
        ("/health", [("authorization", "Bearer {t}")]),
    ],
    ids=["two-tokens", "malformed-header", "insecure-exempt-path"],
)
def test_middleware_plain_http_exposure_logged_for_every_token_shape(
    path: str, headers: list[tuple[str, str]], caplog: pytest.LogCaptureFixture
) -> None:
    value = token()
    app = make_app(cookie_name="session", exempt_paths=["/health"], insecure_paths=["/health"])
    sent = [(name, header.format(t=value)) for name, header in headers]
    with caplog.at_level(logging.INFO, logger="jwe_middleware"):
        request(app, "GET", f"{HTTP}{path}", headers=sent)
    assert "plain HTTP" in caplog.text
    assert value not in caplog.text and value[:40] not in caplog.text


def test_middleware_token_sent_to_insecure_path_is_revoked() -> None:
    store = MemoryRevocationStore(clock=lambda: NOW)
    app = make_app(revocation=store, exempt_paths=["/health"], insecure_paths=["/health"])
    value = token()
    assert request(app, "GET", f"{HTTP}/health", headers=bearer(value)).status_code == 200
    assert request(app, "GET", f"{HTTPS}/me", headers=bearer(value)).status_code == 401


def test_middleware_both_tokens_of_a_plain_http_request_are_revoked() -> None:
    store = MemoryRevocationStore(clock=lambda: NOW)
    app = make_app(revocation=store, cookie_name="session")
    first, second = token(), token()
    headers = [("authorization", f"Bearer {first}"), ("cookie", f"session={second}")]
    assert request(app, "GET", f"{HTTP}/me", headers=headers).status_code == 403
    for value in (first, second):
        assert request(app, "GET", f"{HTTPS}/me", headers=bearer(value)).status_code == 401


def test_middleware_hsts_set_by_the_app_is_kept_once() -> None:
    async def own_policy(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok", headers={"Strict-Transport-Security": "max-age=60"})

    app = Starlette(routes=[Route("/own", own_policy)])
    app.add_middleware(JWEMiddleware, **decoder_options())
    response = request(app, "GET", f"{HTTPS}/own", headers=bearer(token()))
    assert response.status_code == 200
    assert response.headers.get_list("strict-transport-security") == ["max-age=60"]


def test_middleware_hsts_can_be_disabled() -> None:
    response = request(make_app(hsts=None), "GET", f"{HTTPS}/me", headers=bearer(token()))
    assert "strict-transport-security" not in response.headers


# --- extraction --------------------------------------------------------------


def test_middleware_missing_token_is_401_without_error_code() -> None:
    response = request(make_app(), "GET", f"{HTTPS}/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'
    assert response.json() == {"detail": "Not authenticated"}


@pytest.mark.parametrize(
    "headers",
    [
        [("authorization", "Bearer a.b.c.d.e"), ("authorization", "Bearer f.g.h.i.j")],
        [("authorization", "Bearer"), ("x-other", "1")],
        [("authorization", "Bearer tok en!"), ("x-other", "1")],
        [("authorization", "Bearer a.b.c.d.e"), ("cookie", "session=a.b.c.d.e")],
    ],
)
def test_middleware_two_tokens_or_malformed_header_is_400(headers: list[tuple[str, str]]) -> None:
    app = make_app(cookie_name="session")
    response = request(app, "GET", f"{HTTPS}/me", headers=headers)
    assert response.status_code == 400
    assert 'error="invalid_request"' in response.headers["www-authenticate"]


def test_middleware_other_auth_scheme_counts_as_no_token() -> None:
    response = request(make_app(), "GET", f"{HTTPS}/me", headers={"Authorization": "Basic eDp5"})
    assert response.status_code == 401
    assert "error=" not in response.headers["www-authenticate"]


def test_middleware_cookie_token_accepted_when_configured() -> None:
    app = make_app(cookie_name="session")
    response = request(app, "GET", f"{HTTPS}/me", headers={"Cookie": f"session={token()}"})
    assert response.status_code == 200


def test_middleware_cookie_ignored_when_not_configured() -> None:
    response = request(make_app(), "GET", f"{HTTPS}/me", headers={"Cookie": f"session={token()}"})
    assert response.status_code == 401


# --- protection and exemptions -----------------------------------------------


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/health", 200),
        ("/healthz", 401),
        ("/api/health", 401),
        ("/health/", 401),
        ("/public/a/b", 200),
        ("/public", 401),
    ],
)
def test_middleware_exempt_paths_are_exact_or_explicit_prefixes(path: str, status: int) -> None:
    app = make_app(exempt_paths=["/health", "/public/*"])
    assert request(app, "GET", f"{HTTPS}{path}").status_code == status


def test_middleware_optional_mode_leaves_absent_token_anonymous() -> None:
    app = make_app(optional=True)
    assert request(app, "GET", f"{HTTPS}/me").json() == {"sub": None}
    assert request(app, "GET", f"{HTTPS}/me", headers=bearer("x.y.z.a.b")).status_code == 401
    assert request(app, "GET", f"{HTTPS}/me", headers=bearer(token())).json() == {"sub": "alice"}


def test_middleware_starlette_requires_reads_scopes() -> None:
    app = make_app()
    allowed = request(app, "GET", f"{HTTPS}/orders", headers=bearer(token()))
    assert allowed.status_code == 200 and allowed.json() == {"user": "alice"}
    narrow = token({"sub": "bob", "scope": "profile"})
    assert request(app, "GET", f"{HTTPS}/orders", headers=bearer(narrow)).status_code == 403


# --- invalid tokens: one uniform answer --------------------------------------


def _invalid_tokens() -> dict[str, str]:
    good = token()
    head, key, iv, ciphertext, tag = good.split(".")
    return {
        "garbage": "not-a-token",
        "truncated": good[:-10],
        "tampered_tag": ".".join([head, key, iv, ciphertext, _flip_first(tag)]),
        "expired": token(lifetime=1, clock=lambda: NOW - 3600),
        "not_yet_valid": token(clock=lambda: NOW + 3600),
        "wrong_issuer": token(issuer="https://evil.test"),
        "wrong_audience": token(audience="other-api"),
        "wrong_key": token(encryption_key=keys()["other_enc"].public()),
        "oversized": good + "A" * 9000,
        "unsigned": token(signing_key=None),
    }


def test_middleware_invalid_tokens_get_byte_identical_responses() -> None:
    app = make_app()
    answers = set()
    for name, value in _invalid_tokens().items():
        response = request(app, "GET", f"{HTTPS}/me", headers=bearer(value))
        assert response.status_code == 401, name
        headers = tuple(sorted(response.headers.items()))
        answers.add((response.status_code, headers, response.content))
    assert len(answers) == 1
    (_, headers, body), = answers
    assert body == b'{"detail":"Invalid token"}'
    assert ("www-authenticate", 'Bearer realm="api", error="invalid_token"') in headers


def test_middleware_rejection_logged_as_code_without_token_or_claims(
    caplog: pytest.LogCaptureFixture,
) -> None:
    expired = token(lifetime=1, clock=lambda: NOW - 3600)
    with caplog.at_level(logging.INFO, logger="jwe_middleware"):
        request(make_app(), "GET", f"{HTTPS}/me", headers=bearer(expired))
    assert "reason=expired" in caplog.text
    assert expired[:40] not in caplog.text
    assert "alice" not in caplog.text


def test_middleware_unexpected_decoder_exception_is_401_not_500(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = make_app()
    response_before = request(app, "GET", f"{HTTPS}/me", headers=bearer(token()))
    assert response_before.status_code == 200

    def explode(self: object, token: object) -> None:
        raise RecursionError("crafted input")

    monkeypatch.setattr("jwe_middleware.decoder.TokenDecoder.decode_token", explode)
    response = request(make_app(cache_size=0), "GET", f"{HTTPS}/me", headers=bearer(token()))
    assert response.status_code == 401


def test_middleware_error_body_hook_shapes_body() -> None:
    app = make_app(error_body=lambda status, error: {"error": error, "status": status})
    response = request(app, "GET", f"{HTTPS}/me", headers=bearer("a.b.c.d.e"))
    assert response.json() == {"error": "invalid_token", "status": 401}


# --- revocation --------------------------------------------------------------


def test_middleware_revoked_token_refused_even_from_cache() -> None:
    store = MemoryRevocationStore(clock=lambda: NOW)
    metrics = TokenMetrics()
    app = make_app(revocation=store, on_event=metrics)
    value = token()
    for _ in range(2):
        assert request(app, "GET", f"{HTTPS}/me", headers=bearer(value)).status_code == 200
    assert metrics.snapshot()["cache_hits"] == 1
    jti = decoder().decode(value)["jti"]
    asyncio.run(store.revoke(jti, NOW + 600))
    assert request(app, "GET", f"{HTTPS}/me", headers=bearer(value)).status_code == 401


def test_middleware_token_over_plain_http_is_revoked() -> None:
    store = MemoryRevocationStore(clock=lambda: NOW)
    app = make_app(revocation=store)
    value = token()
    assert request(app, "GET", f"{HTTP}/me", headers=bearer(value)).status_code == 403
    assert request(app, "GET", f"{HTTPS}/me", headers=bearer(value)).status_code == 401


def test_middleware_exposed_token_revocation_can_be_turned_off() -> None:
    store = MemoryRevocationStore(clock=lambda: NOW)
    app = make_app(revocation=store, revoke_exposed_tokens=False)
    value = token()
    assert request(app, "GET", f"{HTTP}/me", headers=bearer(value)).status_code == 403
    assert request(app, "GET", f"{HTTPS}/me", headers=bearer(value)).status_code == 200


def test_middleware_token_without_jti_refused_when_revocation_on() -> None:
    app = make_app(revocation=MemoryRevocationStore(clock=lambda: NOW))
    plain = token()
    without_jti = token({"sub": "alice", "jti": None})
    assert request(app, "GET", f"{HTTPS}/me", headers=bearer(plain)).status_code == 200
    assert request(app, "GET", f"{HTTPS}/me", headers=bearer(without_jti)).status_code == 401


class _BrokenStore:
    async def revoke(self, jti: str, until: float) -> None:
        raise RevocationUnavailable("down")

    async def is_revoked(self, jti: str) -> bool:
        raise RevocationUnavailable("down")


class _FaultyStore:
    """A store failing in a way it did not foresee, not as an outage."""

    async def revoke(self, jti: str, until: float) -> None:
        raise RuntimeError("Event loop is closed")

    async def is_revoked(self, jti: str) -> bool:
        raise RuntimeError("Event loop is closed")


@pytest.mark.parametrize("store", [_BrokenStore(), _FaultyStore()], ids=["outage", "fault"])
def test_middleware_revocation_store_down_fails_closed_with_503(
    store: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="jwe_middleware"):
        app = make_app(revocation=store)
        response = request(app, "GET", f"{HTTPS}/me", headers=bearer(token()))
    assert response.status_code == 503
    assert response.json() == {"detail": "Authentication is temporarily unavailable"}
    assert "failing closed" in caplog.text
    assert "reason=revocation_unavailable method=GET path='/me'" in caplog.text


def test_middleware_faulty_store_on_plain_http_still_refuses_with_403() -> None:
    app = make_app(revocation=_FaultyStore())
    assert request(app, "GET", f"{HTTP}/me", headers=bearer(token())).status_code == 403


def test_middleware_exposed_token_stays_revoked_through_the_leeway() -> None:
    now = [NOW]
    store = MemoryRevocationStore(clock=lambda: now[0])
    app = make_app(revocation=store, clock=lambda: now[0], cache_size=0)
    value = token(lifetime=60)
    assert request(app, "GET", f"{HTTP}/me", headers=bearer(value)).status_code == 403
    # Past exp but inside the 30 s leeway the decoder would still accept it.
    now[0] = NOW + 60 + 15
    assert request(app, "GET", f"{HTTPS}/me", headers=bearer(value)).status_code == 401


def test_middleware_revocation_store_down_fails_open_when_configured(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = make_app(revocation=_BrokenStore(), revocation_failure="open")
    with caplog.at_level(logging.ERROR, logger="jwe_middleware"):
        response = request(app, "GET", f"{HTTPS}/me", headers=bearer(token()))
    assert response.status_code == 200
    assert "failing open" in caplog.text


def test_middleware_fail_open_still_refuses_invalid_tokens() -> None:
    app = make_app(revocation=_BrokenStore(), revocation_failure="open")
    tampered = token()[:-4] + "AAAA"
    assert request(app, "GET", f"{HTTPS}/me", headers=bearer(tampered)).status_code == 401


@pytest.mark.parametrize("mode", ["", "Open", "ignore", None])
def test_middleware_unknown_revocation_failure_mode_refused(mode: Any) -> None:
    with pytest.raises(ValueError, match="revocation_failure"):
        JWEMiddleware(make_app(), **decoder_options(), revocation_failure=mode)


# --- cache and telemetry -----------------------------------------------------


def test_middleware_refusals_before_decoding_are_counted() -> None:
    metrics = TokenMetrics()
    app = make_app(on_event=metrics)
    request(app, "GET", f"{HTTPS}/me")
    request(app, "GET", f"{HTTP}/me")
    request(app, "GET", f"{HTTPS}/me", headers={"Authorization": "Bearer a b"})
    request(app, "GET", f"{HTTPS}/me", headers=bearer("a.b.c.d.e"))
    assert metrics.snapshot()["rejected"] == {
        "missing_token": 1,
        "insecure_transport": 1,
        "invalid_request": 1,
        "malformed": 1,
    }


def test_middleware_reused_token_served_from_cache() -> None:
    metrics = TokenMetrics()
    app = make_app(on_event=metrics)
    value = token()
    for _ in range(3):
        assert request(app, "GET", f"{HTTPS}/me", headers=bearer(value)).status_code == 200
    snapshot = metrics.snapshot()
    assert snapshot["accepted"] == {"enc-1": 3}
    assert snapshot["cache_hits"] == 2


def test_middleware_cached_token_refused_once_decoder_max_age_passes() -> None:
    # The cache keeps an entry for up to 300 s, the decoder's max_age is 60 s
    # (plus 30 s of leeway): the cache must not answer past the decoder's rule.
    now = [NOW]
    app = make_app(max_age=60, clock=lambda: now[0])
    value = token()
    assert request(app, "GET", f"{HTTPS}/me", headers=bearer(value)).status_code == 200
    now[0] = NOW + 91
    assert request(app, "GET", f"{HTTPS}/me", headers=bearer(value)).status_code == 401


def test_middleware_cached_claims_cannot_be_changed_by_a_route() -> None:
    seen: list[object] = []

    async def meddle(request: Request) -> JSONResponse:
        claims = request.state.claims
        seen.append(claims["roles"])
        with contextlib.suppress(AttributeError, TypeError):
            claims["roles"].append("admin")  # type: ignore[attr-defined]
        with contextlib.suppress(AttributeError, TypeError):
            claims["address"]["city"] = "elsewhere"
        return JSONResponse({"roles": list(claims["roles"]), "city": claims["address"]["city"]})

    app = Starlette(routes=[Route("/meddle", meddle)])
    app.add_middleware(JWEMiddleware, **decoder_options())
    value = token({"sub": "alice", "roles": ["user"], "address": {"city": "here"}})
    for _ in range(3):
        response = request(app, "GET", f"{HTTPS}/meddle", headers=bearer(value))
        assert response.json() == {"roles": ["user"], "city": "here"}
    assert len(seen) == 3


def test_middleware_events_count_rejections_by_reason() -> None:
    events: list[AuthEvent] = []
    app = make_app(on_event=events.append)
    request(app, "GET", f"{HTTPS}/me", headers=bearer(token(audience="x")))
    assert [(event.accepted, event.reason) for event in events] == [(False, "invalid_audience")]


def test_middleware_failing_event_hook_does_not_fail_request() -> None:
    def broken(event: AuthEvent) -> None:
        raise RuntimeError("metrics down")

    response = request(make_app(on_event=broken), "GET", f"{HTTPS}/me", headers=bearer(token()))
    assert response.status_code == 200


class _RotatingSource:
    """A key source whose refresh brings in a new key (a unit-level fake)."""

    def __init__(self, first: KeyRing, second: KeyRing) -> None:
        self._ring, self._next = first, second
        self.refreshes = 0

    def current(self) -> KeyRing:
        return self._ring

    async def refresh(self) -> bool:
        self.refreshes += 1
        changed = self._ring is not self._next
        self._ring = self._next
        return changed


def test_middleware_unknown_kid_refreshes_key_source_once() -> None:
    old = keys()["dir"]
    from jwe_middleware import generate_key

    new = generate_key("dir", kid="dir-2")
    source = _RotatingSource(KeyRing([old]), KeyRing([old, new]))
    app = make_app(decryption_keys=source, verification_keys=None)
    value = token(encryption_key=new, signing_key=None)
    assert request(app, "GET", f"{HTTPS}/me", headers=bearer(value)).status_code == 200
    assert source.refreshes == 1


# --- ASGI behaviour ----------------------------------------------------------


def test_middleware_streaming_response_passes_through() -> None:
    response = request(make_app(), "GET", f"{HTTPS}/stream", headers=bearer(token()))
    assert response.status_code == 200
    assert response.content == b"one,two,three"


def test_middleware_lifespan_passes_through() -> None:
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    app = Starlette(routes=[Route("/health", health)], lifespan=lifespan)
    app.add_middleware(JWEMiddleware, **decoder_options())
    with TestClient(app, base_url=HTTPS):
        pass
    assert events == ["startup", "shutdown"]


def test_middleware_websocket_with_valid_token_is_accepted() -> None:
    client = TestClient(make_app(), base_url=HTTPS)
    with client.websocket_connect("wss://api.test/ws", headers=bearer(token())) as socket:
        assert socket.receive_json() == {"sub": "alice"}


@pytest.mark.parametrize(
    ("url", "headers"),
    [
        ("wss://api.test/ws", {}),
        ("wss://api.test/ws", {"Authorization": "Bearer a.b.c.d.e"}),
        ("ws://api.test/ws", None),
    ],
)
def test_middleware_websocket_refused_with_1008_before_accept(
    url: str, headers: dict[str, str] | None
) -> None:
    client = TestClient(make_app(), base_url=HTTPS)
    sent = bearer(token()) if headers is None else headers
    with pytest.raises(WebSocketDisconnect) as refused:
        with client.websocket_connect(url, headers=sent):
            pass
    assert refused.value.code == 1008


# --- configuration -----------------------------------------------------------


def test_middleware_decoder_and_options_together_is_type_error() -> None:
    with pytest.raises(TypeError):
        JWEMiddleware(make_app(), decoder=decoder(), issuer="x")


def test_middleware_without_keys_is_type_error() -> None:
    with pytest.raises(TypeError):
        JWEMiddleware(make_app())


@pytest.mark.parametrize(
    "options", [{"revocation": "redis://localhost:6379/0"}, {"on_event": "metrics"}]
)
def test_middleware_option_of_wrong_kind_is_type_error(options: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        JWEMiddleware(make_app(), **decoder_options(), **options)


def test_middleware_rsa_oaep_without_verification_keys_refused_at_startup() -> None:
    with pytest.raises(ValueError, match="allow_unsigned"):
        JWEMiddleware(make_app(), **decoder_options(verification_keys=None))


@pytest.mark.parametrize("realm", ['a"b', "", "tab\there", "naïve"])
def test_middleware_bad_realm_is_value_error(realm: str) -> None:
    with pytest.raises(ValueError):
        JWEMiddleware(make_app(), realm=realm, **decoder_options())


def _flip_first(segment: str) -> str:
    return ("A" if segment[0] != "A" else "B") + segment[1:]


def test_middleware_retired_key_still_presented_is_counted() -> None:
    from jwe_middleware import generate_key

    old, new = keys()["dir"], generate_key("dir", kid="dir-new")
    source = _RotatingSource(KeyRing([old, new]), KeyRing([new]))
    metrics = TokenMetrics()
    app = make_app(decryption_keys=source, verification_keys=None, on_event=metrics)
    old_token = token(encryption_key=old, signing_key=None)
    assert request(app, "GET", f"{HTTPS}/me", headers=bearer(old_token)).status_code == 200
    asyncio.run(source.refresh())
    assert request(app, "GET", f"{HTTPS}/me", headers=bearer(old_token)).status_code == 401
    stranger_key = generate_key("dir", kid="never")
    stranger = token({"sub": "x"}, encryption_key=stranger_key, signing_key=None)
    assert request(app, "GET", f"{HTTPS}/me", headers=bearer(stranger)).status_code == 401
    snapshot = metrics.snapshot()
    assert snapshot["accepted"] == {"dir-1": 1}
    assert snapshot["rejected"] == {"unknown_key": 2}
    assert snapshot["retired_presented"] == {"dir-1": 1}


def test_middleware_retired_signing_key_still_presented_is_counted() -> None:
    from jwe_middleware import generate_key

    old, new = keys()["sig"], generate_key("ES256", kid="sig-new")
    source = _RotatingSource(KeyRing([old.public(), new.public()]), KeyRing([new.public()]))
    metrics = TokenMetrics()
    app = make_app(verification_keys=source, on_event=metrics)
    old_token = token()
    assert request(app, "GET", f"{HTTPS}/me", headers=bearer(old_token)).status_code == 200
    asyncio.run(source.refresh())
    # The cache entry is dropped with the key change: the token is read again.
    assert request(app, "GET", f"{HTTPS}/me", headers=bearer(old_token)).status_code == 401
    snapshot = metrics.snapshot()
    assert snapshot["rejected"] == {"unknown_key": 1}
    assert snapshot["retired_presented"] == {"sig-1": 1}


class _StaleSource(_RotatingSource):
    """A source that reports itself stale until refreshed."""

    @property
    def stale(self) -> bool:
        return self.refreshes == 0


def test_middleware_stale_source_refreshed_in_background() -> None:
    ring = KeyRing([keys()["dir"]])
    source = _StaleSource(ring, ring)
    app = make_app(decryption_keys=source, verification_keys=None)
    value = token(encryption_key=keys()["dir"], signing_key=None)
    assert request(app, "GET", f"{HTTPS}/me", headers=bearer(value)).status_code == 200
    assert source.refreshes == 1
