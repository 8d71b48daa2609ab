"""The example app's contract, in process (https:// base URL)."""

from __future__ import annotations

import asyncio
import base64
import json

import example_app.main as example
import pytest
from jose import jwe

from jwe_middleware import RevocationUnavailable
from tests._helpers import bearer, request

HTTPS = "https://127.0.0.1:8443"


def login(username: str, password: str) -> str:
    response = request(
        example.app, "POST", f"{HTTPS}/token", data={"username": username, "password": password}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 900
    return str(body["access_token"])


@pytest.mark.parametrize(
    ("username", "password"), [("alice", "wrong"), ("mallory", "alice-demo"), ("bob", "alice-demo")]
)
def test_example_login_wrong_credentials_is_401(username: str, password: str) -> None:
    response = request(
        example.app, "POST", f"{HTTPS}/token", data={"username": username, "password": password}
    )
    assert response.status_code == 401


def test_example_me_returns_current_user() -> None:
    value = login("alice", "alice-demo")
    response = request(example.app, "GET", f"{HTTPS}/me", headers=bearer(value))
    assert response.status_code == 200
    assert response.json()["sub"] == "alice"


@pytest.mark.parametrize(("username", "status"), [("alice", 200), ("bob", 403)])
def test_example_orders_needs_scope(username: str, status: int) -> None:
    value = login(username, f"{username}-demo")
    response = request(example.app, "GET", f"{HTTPS}/orders", headers=bearer(value))
    assert response.status_code == status


def test_example_health_needs_no_token() -> None:
    assert request(example.app, "GET", f"{HTTPS}/health").json() == {"status": "ok"}


def test_example_protected_route_without_token_is_401() -> None:
    assert request(example.app, "GET", f"{HTTPS}/me").status_code == 401


def test_example_plain_http_is_refused() -> None:
    value = login("alice", "alice-demo")
    response = request(example.app, "GET", "http://127.0.0.1:8443/me", headers=bearer(value))
    assert response.status_code == 403


def test_example_jwks_publishes_enc_and_sig_keys() -> None:
    keys = request(example.app, "GET", f"{HTTPS}/.well-known/jwks.json").json()["keys"]
    uses = {key["use"]: key for key in keys}
    assert uses["enc"]["alg"] == "RSA-OAEP-256" and uses["enc"]["kid"]
    assert uses["sig"]["alg"] == "ES256" and uses["sig"]["kid"]
    assert all("d" not in key for key in keys)


def test_example_token_is_nested_rsa_oaep_a256gcm() -> None:
    header = _segment_json(login("alice", "alice-demo").split(".")[0])
    assert header["alg"] == "RSA-OAEP-256"
    assert header["enc"] == "A256GCM"
    assert header["cty"] == "JWT"


def _segment_json(segment: bytes | str) -> dict[str, object]:
    text = segment if isinstance(segment, str) else segment.decode("ascii")
    return dict(json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))))


def test_example_token_inner_jws_is_es256_by_the_login_key() -> None:
    value = login("alice", "alice-demo")
    inner = jwe.decrypt(value, example.material.encryption_key.material)
    assert inner is not None
    header = _segment_json(inner.split(b".")[0])
    assert header["alg"] == "ES256"
    assert header["kid"] == example.material.signing_key.kid


def test_example_personal_claims_unreadable_without_private_key() -> None:
    value = login("alice", "alice-demo")
    decoded = b"".join(
        base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)) for part in value.split(".")
    )
    for secret in (b"alice@example.org", b"Alice Example", b"orders:read", b"alice"):
        assert secret not in decoded
        assert secret not in value.encode()


def test_example_logout_revokes_token() -> None:
    value = login("alice", "alice-demo")
    assert request(example.app, "POST", f"{HTTPS}/logout", headers=bearer(value)).status_code == 200
    assert request(example.app, "GET", f"{HTTPS}/me", headers=bearer(value)).status_code == 401


def test_example_logout_lasts_through_the_leeway() -> None:
    value = login("alice", "alice-demo")
    assert request(example.app, "POST", f"{HTTPS}/logout", headers=bearer(value)).status_code == 200
    claims = example.decoder.decode(value)
    assert example.decoder.accepted_until(claims) == claims["exp"] + example.decoder.rules.leeway
    assert asyncio.run(example.revocation.is_revoked(claims["jti"]))


@pytest.mark.parametrize(
    "fault",
    [
        RevocationUnavailable("redis revoke failed: ConnectionError"),
        RuntimeError("client bound to a closed event loop"),
    ],
)
def test_example_logout_store_fault_is_503_not_500(
    monkeypatch: pytest.MonkeyPatch, fault: Exception
) -> None:
    value = login("alice", "alice-demo")

    async def broken(jti: str, until: float) -> None:
        raise fault

    monkeypatch.setattr(example.revocation, "revoke", broken)
    response = request(example.app, "POST", f"{HTTPS}/logout", headers=bearer(value))
    assert response.status_code == 503
    assert response.json() == {"detail": "Logout is temporarily unavailable"}


def test_example_openapi_password_flow_points_at_token() -> None:
    schema = request(example.app, "GET", f"{HTTPS}/openapi.json").json()
    flow = schema["components"]["securitySchemes"]["JWE"]["flows"]["password"]
    assert flow["tokenUrl"] == "/token"


def _metric(text: str, line_start: str) -> float:
    values = [line.rsplit(" ", 1)[1] for line in text.splitlines() if line.startswith(line_start)]
    return float(values[0]) if values else 0.0


def test_example_metrics_count_acceptances_per_kid_and_rejections_per_reason() -> None:
    kid = example.material.encryption_key.kid
    accepted = f'jwe_tokens_accepted_total{{cached="false",kid="{kid}"}}'
    rejected = 'jwe_tokens_rejected_total{reason="malformed"}'
    before = request(example.app, "GET", f"{HTTPS}/metrics").text
    request(example.app, "GET", f"{HTTPS}/me", headers=bearer("a.b.c.d.e"))
    request(example.app, "GET", f"{HTTPS}/me", headers=bearer(login("alice", "alice-demo")))
    after = request(example.app, "GET", f"{HTTPS}/metrics").text
    assert _metric(after, rejected) == _metric(before, rejected) + 1
    assert _metric(after, accepted) == _metric(before, accepted) + 1


def test_example_server_leaves_proxy_trust_to_the_middleware(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # uvicorn's own proxy-header handling would rewrite the scheme from a
    # header sent from 127.0.0.1 before the middleware could judge it.
    import example_app.__main__ as entry
    import uvicorn

    seen: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: seen.update(options))
    entry.main()
    assert seen["proxy_headers"] is False
    assert seen["host"] == "127.0.0.1" and seen["port"] == 8443
    assert seen["ssl_certfile"] and seen["ssl_keyfile"]
