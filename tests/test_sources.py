from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import ssl
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from jwe_middleware import (
    ExpiredToken,
    JWEMiddleware,
    Key,
    KeyRing,
    TokenDecoder,
    TokenIssuer,
    UnknownKey,
    generate_key,
)
from jwe_middleware.sources import JWKSUnavailable, KeyFile, RemoteJWKS

from ._helpers import bearer, request
from ._jwks import JWKSEndpoint
from ._tls import TLSFiles

T = TypeVar("T")

COOLDOWN = 30.0
MAX_AGE = 300.0
CHECK_INTERVAL = 5.0


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def write_key_set(path: Path, keys: list[Key], *, public: bool = False) -> None:
    """Replace the file atomically, as an operator rotating keys should."""
    ring = KeyRing(keys)
    document = ring.public_jwks() if public else ring.private_jwks()
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(document))
    os.replace(temporary, path)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    return tmp_path / "keys.json"


# -- KeyFile ---------------------------------------------------------------


def test_key_file_construction_loads_keys(key_path: Path, clock: FakeClock) -> None:
    write_key_set(key_path, [generate_key("A256KW", kid="a")])

    source = KeyFile(key_path, clock=clock)

    assert [key.kid for key in source.current()] == ["a"]
    assert source.current() is source.current()


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (None, FileNotFoundError),
        (b"{not json", ValueError),
        (b'{"keys": []}', ValueError),
        (b'{"keys": [{"kty": "oct", "k": "AAAA", "alg": "A256KW"}]}', ValueError),
        (b"[1, 2]", ValueError),
    ],
)
def test_key_file_bad_file_at_start_raises(
    key_path: Path, content: bytes | None, error: type[Exception]
) -> None:
    if content is not None:
        key_path.write_bytes(content)

    with pytest.raises(error):
        KeyFile(key_path)


@pytest.mark.parametrize("interval", [-1.0, math.nan])
def test_key_file_bad_interval_raises(key_path: Path, interval: float) -> None:
    write_key_set(key_path, [generate_key("A256KW", kid="a")])

    with pytest.raises(ValueError):
        KeyFile(key_path, check_interval=interval)


def test_key_file_change_seen_only_after_interval(key_path: Path, clock: FakeClock) -> None:
    write_key_set(key_path, [generate_key("A256KW", kid="a")])
    source = KeyFile(key_path, check_interval=CHECK_INTERVAL, clock=clock)
    before = source.current()

    write_key_set(key_path, [generate_key("A256KW", kid="b")])
    clock.advance(CHECK_INTERVAL - 0.5)
    assert source.current() is before

    clock.advance(0.5)
    assert [key.kid for key in source.current()] == ["b"]


def test_key_file_stats_only_when_due(
    key_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_key_set(key_path, [generate_key("A256KW", kid="a")])
    source = KeyFile(key_path, check_interval=CHECK_INTERVAL, clock=clock)
    stats: list[object] = []
    real_stat = os.stat

    def counting_stat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        if Path(path) == key_path:
            stats.append(path)
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", counting_stat)
    for _ in range(100):
        source.current()
    assert stats == []

    clock.advance(CHECK_INTERVAL)
    for _ in range(100):
        source.current()
    assert len(stats) == 1


def test_key_file_broken_reload_keeps_last_good_ring(
    key_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    good = generate_key("A256KW", kid="good")
    write_key_set(key_path, [good])
    source = KeyFile(key_path, check_interval=CHECK_INTERVAL, clock=clock)
    before = source.current()
    secret = good.private_jwk()["k"]
    caplog.set_level(logging.WARNING, logger="jwe_middleware")

    key_path.write_text(json.dumps({"keys": [{"kty": "oct", "k": secret[:10], "alg": "A256KW"}]}))
    clock.advance(CHECK_INTERVAL)

    assert source.current() is before
    assert str(key_path) in caplog.text and "keeping the last good set" in caplog.text
    assert secret[:10] not in caplog.text


def test_key_file_broken_version_warned_once_then_fixed(
    key_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    write_key_set(key_path, [generate_key("A256KW", kid="a")])
    source = KeyFile(key_path, check_interval=CHECK_INTERVAL, clock=clock)
    caplog.set_level(logging.WARNING, logger="jwe_middleware")

    key_path.write_text('{"keys": [')
    for _ in range(3):
        clock.advance(CHECK_INTERVAL)
        assert [key.kid for key in source.current()] == ["a"]
    assert len(caplog.records) == 1

    write_key_set(key_path, [generate_key("A256KW", kid="fixed")])
    clock.advance(CHECK_INTERVAL)
    assert [key.kid for key in source.current()] == ["fixed"]


def test_key_file_deleted_keeps_last_good_ring(
    key_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    write_key_set(key_path, [generate_key("A256KW", kid="a")])
    source = KeyFile(key_path, check_interval=CHECK_INTERVAL, clock=clock)
    before = source.current()
    caplog.set_level(logging.WARNING, logger="jwe_middleware")

    key_path.unlink()
    clock.advance(CHECK_INTERVAL)
    assert source.current() is before
    assert "keeping the last good set" in caplog.text

    write_key_set(key_path, [generate_key("A256KW", kid="back")])
    clock.advance(CHECK_INTERVAL)
    assert [key.kid for key in source.current()] == ["back"]


def test_key_file_touched_unchanged_keeps_snapshot(key_path: Path, clock: FakeClock) -> None:
    write_key_set(key_path, [generate_key("A256KW", kid="a")])
    source = KeyFile(key_path, check_interval=CHECK_INTERVAL, clock=clock)
    before = source.current()

    key_path.write_text(json.dumps(json.loads(key_path.read_text()), indent=4))
    clock.advance(CHECK_INTERVAL)

    assert source.current() is before
    assert run(source.refresh()) is False


def test_key_file_refresh_reads_changed_file_at_once(key_path: Path, clock: FakeClock) -> None:
    write_key_set(key_path, [generate_key("A256KW", kid="a")])
    source = KeyFile(key_path, check_interval=CHECK_INTERVAL, clock=clock)

    write_key_set(key_path, [generate_key("A256KW", kid="b")])

    assert run(source.refresh()) is True
    assert [key.kid for key in source.current()] == ["b"]
    assert run(source.refresh()) is False


def test_key_file_reload_reads_file_that_looks_unchanged(
    key_path: Path, clock: FakeClock
) -> None:
    write_key_set(key_path, [generate_key("A256KW", kid="a")])
    source = KeyFile(key_path, check_interval=CHECK_INTERVAL, clock=clock)
    stat = key_path.stat()

    # Same inode, same size, mtime put back: a stat cannot tell.
    key_path.write_text(json.dumps(KeyRing([generate_key("A256KW", kid="b")]).private_jwks()))
    os.utime(key_path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    clock.advance(CHECK_INTERVAL)
    assert [key.kid for key in source.current()] == ["a"]

    assert source.reload() is True
    assert [key.kid for key in source.current()] == ["b"]


# -- key rotation through a decoder ------------------------------------------

LIFETIME = 600.0
LEEWAY = 30.0


async def _subject(request: Request) -> JSONResponse:
    return JSONResponse({"sub": request.state.claims["sub"]})


class Issued(NamedTuple):
    token: str
    kid: str
    expires: float


class Rotation:
    """One service, one key file being rotated, and every token issued so far.

    ``role`` says which keys rotate: the service's own decryption keys (the
    file holds private A256KW keys) or the issuer's signing keys (the file
    holds public ES256 keys).
    """

    def __init__(self, path: Path, role: str) -> None:
        self.path = path
        self.role = role
        self.clock = FakeClock()
        self.issued: list[Issued] = []
        self._encryption = generate_key("A256KW", kid="enc")
        self._signing = generate_key("ES256", kid="sig")

    def new_key(self, kid: str) -> Key:
        return generate_key("A256KW" if self.role == "decryption" else "ES256", kid=kid)

    def publish(self, *keys: Key) -> None:
        write_key_set(self.path, list(keys), public=self.role == "verification")
        self.clock.advance(CHECK_INTERVAL)

    def start_decoder(self) -> TokenDecoder:
        source = KeyFile(self.path, check_interval=CHECK_INTERVAL, clock=self.clock)
        fixed = KeyRing([self._encryption if self.role == "verification" else self._signing])
        if self.role == "decryption":
            fixed = fixed.public()
        self.decoder = TokenDecoder(
            decryption_keys=source if self.role == "decryption" else fixed,
            verification_keys=source if self.role == "verification" else fixed,
            leeway=LEEWAY,
            clock=self.clock,
        )
        # The same decoder behind the middleware, token cache included: a
        # cached answer must follow the rotation as the decoder does.
        self.app = Starlette(routes=[Route("/me", _subject)])
        self.app.add_middleware(JWEMiddleware, decoder=self.decoder)
        return self.decoder

    def mint(self, key: Key) -> str:
        rotating_encryption = self.role == "decryption"
        issuer = TokenIssuer(
            encryption_key=key if rotating_encryption else self._encryption,
            signing_key=self._signing if rotating_encryption else key,
            lifetime=LIFETIME,
            clock=self.clock,
        )
        return issuer.issue({"sub": "user-1"})

    def issue(self, key: Key) -> Issued:
        issued = Issued(self.mint(key), key.kid, self.clock() + LIFETIME)
        self.issued.append(issued)
        return issued

    def rotating_kids(self) -> set[str]:
        ring = self.decoder.decryption_keys if self.role == "decryption" else (
            self.decoder.verification_keys
        )
        return {key.kid for key in ring or ()}

    def assert_live_tokens_accepted(self) -> None:
        for issued in self.issued:
            if self.clock() < issued.expires + LEEWAY:
                self.decoder.decode(issued.token)
                assert self.answer(issued.token) == 200

    def answer(self, token: str) -> int:
        return request(self.app, "GET", "https://api.test/me", headers=bearer(token)).status_code

    def tokens_of(self, kid: str) -> list[str]:
        return [issued.token for issued in self.issued if issued.kid == kid]


@pytest.mark.parametrize("role", ["decryption", "verification"])
def test_rotation_walk_through_no_live_token_refused(tmp_path: Path, role: str) -> None:
    world = Rotation(tmp_path / "keys.json", role)
    old, new = world.new_key("old"), world.new_key("new")

    # 1. Only the old key exists, and tokens are issued with it.
    world.publish(old)
    world.start_decoder()
    world.issue(old)
    world.assert_live_tokens_accepted()

    # 2. The new key is published beside the old one before anyone uses it.
    world.publish(old, new)
    assert world.rotating_kids() == {"old", "new"}
    world.issue(old)
    world.assert_live_tokens_accepted()

    # 3. Issuers switch. The old key's last token lives one lifetime more.
    last_old = world.issue(old)
    world.issue(new)
    world.assert_live_tokens_accepted()

    # 4. Wait out the longest lifetime (and the leeway), checking on the way.
    for _ in range(4):
        world.clock.advance(LIFETIME / 4)
        world.issue(new)
        world.assert_live_tokens_accepted()
    world.clock.advance(LEEWAY)
    assert world.clock() >= last_old.expires + LEEWAY
    for token in world.tokens_of("old"):
        with pytest.raises(ExpiredToken):
            world.decoder.decode(token)
        assert world.answer(token) == 401

    # 5. Retire the old key: nothing live used it, and it opens nothing now.
    world.publish(new)
    assert world.rotating_kids() == {"new"}
    world.assert_live_tokens_accepted()
    for token in [*world.tokens_of("old"), world.mint(old)]:
        with pytest.raises(UnknownKey):
            world.decoder.decode(token)
        assert world.answer(token) == 401


# -- RemoteJWKS: a real HTTPS server on 127.0.0.1 (fixtures in conftest) ----


@pytest.fixture(scope="module")
def old_key() -> Key:
    return generate_key("ES256", kid="old")


@pytest.fixture(scope="module")
def new_key() -> Key:
    return generate_key("ES256", kid="new")


def remote(url: str, tls: TLSFiles, clock: FakeClock, **options: Any) -> RemoteJWKS:
    return RemoteJWKS(
        url,
        max_age=MAX_AGE,
        refresh_cooldown=COOLDOWN,
        verify=tls.client_context(),
        clock=clock,
        **options,
    )


def kids(source: RemoteJWKS) -> set[str]:
    return {key.kid for key in source.current()}


@pytest.mark.parametrize(
    "bad_url",
    [
        "http://127.0.0.1/jwks.json",
        "HTTP://127.0.0.1/jwks.json",
        "ftp://127.0.0.1/jwks.json",
        "https:///jwks.json",
        "127.0.0.1/jwks.json",
    ],
)
def test_remote_jwks_non_https_url_refused(bad_url: str) -> None:
    with pytest.raises(ValueError, match="https"):
        RemoteJWKS(bad_url)


def test_remote_jwks_unverified_tls_refused() -> None:
    unverified = ssl.create_default_context()
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE

    for verify in (False, unverified):
        with pytest.raises(ValueError, match="verify"):
            RemoteJWKS("https://127.0.0.1/jwks.json", verify=verify)


def test_remote_jwks_verify_beside_own_client_refused(tls: TLSFiles) -> None:
    client = httpx.AsyncClient()
    with pytest.raises(ValueError, match="verify"):
        RemoteJWKS("https://127.0.0.1/jwks.json", verify=tls.client_context(), client=client)


def test_remote_jwks_before_first_fetch_empty_and_stale(
    url: str, tls: TLSFiles, clock: FakeClock
) -> None:
    source = remote(url, tls, clock)

    assert len(source.current()) == 0
    assert source.stale is True


def test_remote_jwks_load_fetches_initial_set(
    endpoint: JWKSEndpoint, url: str, tls: TLSFiles, clock: FakeClock, old_key: Key
) -> None:
    endpoint.publish(old_key)

    source = run(remote(url, tls, clock).load())

    assert kids(source) == {"old"}
    assert all(not key.is_private for key in source.current())
    assert source.stale is False
    assert endpoint.hits == 1


def test_remote_jwks_ca_path_string_verifies(
    endpoint: JWKSEndpoint, url: str, tls: TLSFiles, old_key: Key
) -> None:
    endpoint.publish(old_key)

    source = run(RemoteJWKS(url, verify=str(tls.ca_pem)).load())

    assert kids(source) == {"old"}


def test_remote_jwks_untrusted_certificate_start_fails(
    endpoint: JWKSEndpoint, url: str, old_key: Key
) -> None:
    endpoint.publish(old_key)
    source = RemoteJWKS(url)

    with pytest.raises(JWKSUnavailable) as caught:
        run(source.start())

    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert len(source.current()) == 0


def test_remote_jwks_start_failure_raises(
    endpoint: JWKSEndpoint, url: str, tls: TLSFiles, clock: FakeClock
) -> None:
    endpoint.status = 500
    source = remote(url, tls, clock)

    with pytest.raises(JWKSUnavailable, match="HTTP status 500"):
        run(source.start())


def test_remote_jwks_rotation_picked_up_by_refresh(
    endpoint: JWKSEndpoint, url: str, tls: TLSFiles, clock: FakeClock, old_key: Key,
    new_key: Key,
) -> None:
    endpoint.publish(old_key)
    source = run(remote(url, tls, clock).load())

    endpoint.publish(old_key, new_key)
    clock.advance(COOLDOWN)
    assert run(source.refresh()) is True
    assert kids(source) == {"old", "new"}

    endpoint.publish(new_key)
    clock.advance(COOLDOWN)
    assert run(source.refresh()) is True
    assert kids(source) == {"new"}


def test_remote_jwks_cooldown_blocks_second_fetch(
    endpoint: JWKSEndpoint, url: str, tls: TLSFiles, clock: FakeClock, old_key: Key,
    new_key: Key,
) -> None:
    endpoint.publish(old_key)
    source = run(remote(url, tls, clock).load())
    endpoint.publish(new_key)

    clock.advance(COOLDOWN - 1)
    assert run(source.refresh()) is False
    assert endpoint.hits == 1
    assert kids(source) == {"old"}

    clock.advance(1)
    assert run(source.refresh()) is True
    assert endpoint.hits == 2


def test_remote_jwks_unchanged_set_keeps_snapshot(
    endpoint: JWKSEndpoint, url: str, tls: TLSFiles, clock: FakeClock, old_key: Key,
    new_key: Key,
) -> None:
    endpoint.publish(old_key, new_key)
    source = run(remote(url, tls, clock).load())
    before = source.current()

    endpoint.publish(new_key, old_key)
    clock.advance(MAX_AGE)
    assert source.stale is True

    assert run(source.refresh()) is False
    assert source.current() is before
    assert source.stale is False


def test_remote_jwks_stale_after_max_age(
    endpoint: JWKSEndpoint, url: str, tls: TLSFiles, clock: FakeClock, old_key: Key
) -> None:
    endpoint.publish(old_key)
    source = run(remote(url, tls, clock).load())

    clock.advance(MAX_AGE - 1)
    assert source.stale is False
    clock.advance(1)
    assert source.stale is True


def test_remote_jwks_concurrent_refreshes_share_one_fetch(
    endpoint: JWKSEndpoint, url: str, tls: TLSFiles, clock: FakeClock, old_key: Key,
    new_key: Key,
) -> None:
    endpoint.publish(old_key)
    source = run(remote(url, tls, clock).load())
    endpoint.publish(new_key)
    endpoint.delay = 0.05
    clock.advance(COOLDOWN)

    async def twenty_refreshes() -> list[bool]:
        return list(await asyncio.gather(*(source.refresh() for _ in range(20))))

    results = run(twenty_refreshes())

    assert endpoint.hits == 2
    assert results == [True] * 20
    assert kids(source) == {"new"}


def test_remote_jwks_outage_keeps_last_good_set(
    endpoint: JWKSEndpoint, url: str, tls: TLSFiles, clock: FakeClock, old_key: Key,
    caplog: pytest.LogCaptureFixture,
) -> None:
    endpoint.publish(old_key)
    source = run(remote(url, tls, clock).load())
    before = source.current()
    caplog.set_level(logging.WARNING, logger="jwe_middleware")

    endpoint.status = 500
    clock.advance(MAX_AGE)
    assert run(source.refresh()) is False

    assert source.current() is before
    assert source.stale is True
    assert "HTTP status 500" in caplog.text
    assert run(source.refresh()) is False
    assert endpoint.hits == 2


def _private_member() -> dict[str, Any]:
    return generate_key("ES256", kid="leaked").private_jwk()


def _without_alg() -> dict[str, Any]:
    member = generate_key("ES256", kid="no-alg").public_jwk()
    del member["alg"]
    return member


def _declared_for_encryption() -> dict[str, Any]:
    return {**generate_key("ES256", kid="enc-use").public_jwk(), "use": "enc"}


def _encryption_key() -> dict[str, Any]:
    return generate_key("RSA-OAEP-256", kid="rsa-enc").public_jwk()


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"<html>not json</html>", id="not-json"),
        pytest.param(b"\xff\xfe{}", id="not-utf8"),
        pytest.param(b"[]", id="json-array"),
        pytest.param(b'{"keys": []}', id="empty-set"),
        pytest.param(b'{"keys": "none"}', id="keys-not-list"),
        pytest.param(b'{"keys": [1]}', id="member-not-object"),
        pytest.param(json.dumps({"keys": [_private_member()]}).encode(), id="private-key"),
        pytest.param(
            json.dumps({"keys": [{"kty": "oct", "k": "c2VjcmV0", "alg": "HS256"}]}).encode(),
            id="symmetric-key",
        ),
        pytest.param(json.dumps({"keys": [_without_alg()]}).encode(), id="no-alg"),
        pytest.param(json.dumps({"keys": [_declared_for_encryption()]}).encode(), id="use-enc"),
        pytest.param(json.dumps({"keys": [_encryption_key()]}).encode(), id="encryption-key"),
        pytest.param(b" " * (300 * 1024) + b'{"keys": []}', id="oversized"),
    ],
)
def test_remote_jwks_bad_response_keeps_last_good_set(
    endpoint: JWKSEndpoint, url: str, tls: TLSFiles, clock: FakeClock, old_key: Key,
    body: bytes, caplog: pytest.LogCaptureFixture,
) -> None:
    endpoint.publish(old_key)
    source = run(remote(url, tls, clock).load())
    before = source.current()
    caplog.set_level(logging.WARNING, logger="jwe_middleware")

    endpoint.body = body
    clock.advance(COOLDOWN)

    assert run(source.refresh()) is False
    assert source.current() is before
    assert "keeping the last good set" in caplog.text


def test_remote_jwks_private_key_never_logged(
    endpoint: JWKSEndpoint, url: str, tls: TLSFiles, clock: FakeClock, old_key: Key,
    caplog: pytest.LogCaptureFixture,
) -> None:
    endpoint.publish(old_key)
    source = run(remote(url, tls, clock).load())
    leaked = _private_member()
    caplog.set_level(logging.DEBUG, logger="jwe_middleware")

    endpoint.body = json.dumps({"keys": [old_key.public_jwk(), leaked]}).encode()
    clock.advance(COOLDOWN)
    run(source.refresh())

    assert "non-public key" in caplog.text
    assert leaked["d"] not in caplog.text


def test_remote_jwks_redirect_not_followed(
    endpoint: JWKSEndpoint, url: str, tls: TLSFiles, clock: FakeClock, old_key: Key
) -> None:
    endpoint.publish(old_key)
    source = run(remote(url, tls, clock).load())

    endpoint.status = 302
    endpoint.headers = {"location": url.replace("https://", "http://")}
    clock.advance(COOLDOWN)

    assert run(source.refresh()) is False
    assert endpoint.hits == 2
    assert kids(source) == {"old"}


def test_remote_jwks_slow_endpoint_times_out(
    endpoint: JWKSEndpoint, url: str, tls: TLSFiles, clock: FakeClock, old_key: Key,
    caplog: pytest.LogCaptureFixture,
) -> None:
    timeout = 0.3
    endpoint.publish(old_key)
    source = run(remote(url, tls, clock, timeout=timeout).load())
    before = source.current()
    caplog.set_level(logging.WARNING, logger="jwe_middleware")

    endpoint.delay = 10.0
    clock.advance(COOLDOWN)
    started = time.monotonic()
    changed = run(source.refresh())
    elapsed = time.monotonic() - started
    endpoint.delay = 0.0

    assert changed is False
    assert timeout <= elapsed < timeout + 0.5
    assert source.current() is before
    assert "timed out" in caplog.text
