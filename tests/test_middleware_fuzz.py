"""Properties of the whole ASGI app under random requests (hypothesis).

Two apps: ``example_app.main.app`` as shipped, and a tiny Starlette app built
from ``decoder_options()`` with a cookie name and a trusted proxy network.
Random ``Authorization`` values, cookies, mutated valid tokens, paths, schemes
and forwarding headers go in; what may come out is small: never a 5xx, and
over HTTPS only the middleware's canonical answers (one 401 for every invalid
token, byte for byte), a route's own answer, or a routing status for a path
that does not exist.

The default profile is bounded (the file runs in well under 30 s). For a
long run::

    HYPOTHESIS_PROFILE=long .venv/bin/pytest tests/test_middleware_fuzz.py -q
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import example_app.main as example
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from jwe_middleware import JWEMiddleware
from tests._helpers import decoder_options, request, token

PROFILES = {
    "bounded": settings(
        max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    ),
    "long": settings(
        max_examples=20_000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    ),
}
FUZZ = PROFILES.get(os.environ.get("HYPOTHESIS_PROFILE", "bounded"), PROFILES["bounded"])

TRUSTED_PROXIES = ["10.0.0.0/8", "2001:db8::/32"]
# RFC 6750 section 2.1, as the extractor applies it.
B64TOKEN = re.compile(rb"[A-Za-z0-9\-._~+/]+=*")
SERVER_ERROR = 500
# A path that names no route, or the wrong method, or lacks a trailing slash.
ROUTING = {307, 404, 405}

Shape = tuple[int, list[tuple[bytes, bytes]], bytes]


# --- the apps ----------------------------------------------------------------


async def whoami(request: Request) -> JSONResponse:
    return JSONResponse({"sub": request.state.claims["sub"]})


async def health(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def tiny_app() -> Starlette:
    app = Starlette(routes=[Route("/me", whoami), Route("/health", health)])
    app.add_middleware(
        JWEMiddleware,
        **decoder_options(),
        exempt_paths=["/health"],
        trusted_proxies=TRUSTED_PROXIES,
        cookie_name="session",
    )
    return app


@cache
def example_token() -> str:
    # One token for the whole run: hypothesis replays its choices against the
    # same bytes, and a fresh token (new IV, new jti) would make the edits
    # drawn for it differ from one replay to the next. The lifetime outlasts
    # the long profile.
    claims = example.USERS["alice"]["claims"]
    return str(example.issuer.issue(claims, lifetime=6 * 3600))


@cache
def tiny_token() -> str:
    # The test decoder runs on a frozen clock, so this token never expires.
    return token()


@dataclass(frozen=True)
class Target:
    app: ASGIApp
    mint: Callable[[], str]
    exempt: frozenset[str]


@cache
def target(name: str) -> Target:
    if name == "example":
        exempt = example.app.user_middleware[0].kwargs["exempt_paths"]
        return Target(example.app, example_token, frozenset(exempt))
    return Target(tiny_app(), tiny_token, frozenset({"/health"}))


def shape(response: httpx.Response) -> Shape:
    return response.status_code, list(response.headers.raw), response.content


def send(
    name: str,
    path: str = "/me",
    *,
    scheme: str = "https",
    headers: list[tuple[str, bytes]] | None = None,
    peer: str = "203.0.113.7",
) -> httpx.Response:
    url = httpx.URL(f"{scheme}://api.test").copy_with(path=path)
    return request(target(name).app, "GET", url, headers=headers or [], client=(peer, 40000))


@cache
def canonical(name: str) -> dict[str, Shape]:
    """The middleware's four fixed answers for one app, keyed by error."""
    answers = {
        "invalid_token": send(name, headers=[("authorization", b"Bearer a.b.c.d.e")]),
        "missing_token": send(name),
        "invalid_request": send(name, headers=[("authorization", b"Bearer")]),
        "insecure_transport": send(name, scheme="http"),
    }
    assert [r.status_code for r in answers.values()] == [401, 401, 400, 403]
    return {error: shape(response) for error, response in answers.items()}


def mutate(data: st.DataObject, value: bytes) -> bytes:
    """One to four edits: bit flips, byte inserts and deletes, segment swaps,
    duplicated dots and segments. Inserted bytes stay visible ASCII."""
    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        edit = data.draw(st.sampled_from(EDITS), label="edit")
        value = edit(data, value)
    return value


def _index(data: st.DataObject, value: bytes, extra: int = 0) -> int:
    return data.draw(st.integers(0, max(len(value) - 1 + extra, 0)))


def flip(data: st.DataObject, value: bytes) -> bytes:
    if not value:
        return value
    at = _index(data, value)
    bit = data.draw(st.integers(0, 6))
    # A client sends visible characters only: fall back to a low bit that
    # keeps the byte visible (one of bits 0 and 1 always does).
    flipped = next(
        value[at] ^ mask for mask in (1 << bit, 1, 2) if 0x21 <= value[at] ^ mask <= 0x7E
    )
    return value[:at] + bytes([flipped]) + value[at + 1 :]


def insert(data: st.DataObject, value: bytes) -> bytes:
    at = _index(data, value, extra=1)
    byte = data.draw(st.integers(0x21, 0x7E))
    return value[:at] + bytes([byte]) + value[at:]


def delete(data: st.DataObject, value: bytes) -> bytes:
    at = _index(data, value)
    return value[:at] + value[at + data.draw(st.integers(1, 8)) :]


def swap_segments(data: st.DataObject, value: bytes) -> bytes:
    parts = value.split(b".")
    one, two = _index(data, parts), _index(data, parts)
    parts[one], parts[two] = parts[two], parts[one]
    return b".".join(parts)


def duplicate_dot(data: st.DataObject, value: bytes) -> bytes:
    dots = [at for at, byte in enumerate(value) if byte == ord(".")] or [len(value)]
    at = data.draw(st.sampled_from(dots))
    return value[:at] + b"." + value[at:]


def duplicate_segment(data: st.DataObject, value: bytes) -> bytes:
    parts = value.split(b".")
    at = _index(data, parts)
    return b".".join([*parts[: at + 1], parts[at], *parts[at + 1 :]])


EDITS = (flip, insert, delete, swap_segments, duplicate_dot, duplicate_segment)

# What an HTTP client can put in a field value (RFC 9110 section 5.5), with
# the surrounding whitespace a server strips.
field_bytes = st.binary(max_size=200).map(
    lambda raw: bytes(b for b in raw if b == 0x09 or 0x20 <= b <= 0x7E or b >= 0x80).strip(b" \t")
)
token_text = st.text(alphabet="ABCXYZabcxyz0189-_.=+/~", max_size=120).map(str.encode)
schemes = st.sampled_from([b"Bearer", b"bearer", b"BEARER", b"Basic", b"Bearer,", b"Token"])
separators = st.sampled_from([b" ", b"  ", b"\t", b""])
authorization_values = st.one_of(
    field_bytes,
    st.builds(lambda *parts: b"".join(parts), schemes, separators, token_text),
    st.builds(lambda *parts: b"".join(parts), schemes, separators, field_bytes),
)
path_characters = st.one_of(
    st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/"),
    st.integers(0, 255).map("%{:02X}".format),
    st.sampled_from(["me", "health", "docs", "token", "orders", "..", "%2F", "//"]),
)
paths = st.lists(path_characters, max_size=12).map(lambda parts: "/" + "".join(parts))


# --- properties ----------------------------------------------------------------


def answer_for(value: bytes) -> str:
    """The canonical answer an invalid Authorization value gets over HTTPS."""
    stripped = value.strip(b" \t")
    if stripped[:7].lower() == b"bearer\t":
        # A tab after the scheme: a bearer attempt, malformed (RFC 7235 2.1).
        return "invalid_request"
    scheme, _, rest = stripped.partition(b" ")
    if scheme.lower() != b"bearer":
        return "missing_token"
    return "invalid_token" if B64TOKEN.fullmatch(rest.lstrip(b" ")) else "invalid_request"


@pytest.mark.parametrize("name", ["example", "tiny"])
@FUZZ
@given(value=authorization_values, secure=st.booleans())
def test_middleware_random_authorization_gets_a_canonical_answer(
    name: str, value: bytes, secure: bool
) -> None:
    response = send(name, scheme="https" if secure else "http", headers=[("authorization", value)])
    assert response.status_code < SERVER_ERROR
    expected = answer_for(value) if secure else "insecure_transport"
    assert shape(response) == canonical(name)[expected]


@FUZZ
@given(cookie=st.one_of(field_bytes, st.lists(
    st.tuples(st.sampled_from([b"session", b"Session", b"other", b""]), token_text),
    max_size=3,
).map(lambda pairs: b"; ".join(name + b"=" + value for name, value in pairs))))
def test_middleware_random_cookie_gets_a_canonical_answer(cookie: bytes) -> None:
    response = send("tiny", headers=[("cookie", cookie)])
    answers = canonical("tiny")
    assert shape(response) in [answers[error] for error in answers if error != "insecure_transport"]


@pytest.mark.parametrize("name", ["example", "tiny"])
@FUZZ
@given(data=st.data())
def test_middleware_mutated_token_is_canonical_401_or_400(name: str, data: st.DataObject) -> None:
    original = target(name).mint().encode("ascii")
    mutant = mutate(data, original)
    response = send(name, headers=[("authorization", b"Bearer " + mutant)])
    if mutant == original:
        assert response.status_code == 200
    elif B64TOKEN.fullmatch(mutant):
        assert shape(response) == canonical(name)["invalid_token"]
    else:
        assert shape(response) == canonical(name)["invalid_request"]


@pytest.mark.parametrize("name", ["example", "tiny"])
@FUZZ
@given(path=paths, credential=st.sampled_from(["valid", "mutated", "none"]), data=st.data())
def test_middleware_random_path_never_errors(
    name: str, path: str, credential: str, data: st.DataObject
) -> None:
    headers, expected = [], "missing_token"
    if credential != "none":
        original = target(name).mint().encode("ascii")
        value = mutate(data, original) if credential == "mutated" else original
        headers = [("authorization", b"Bearer " + value)]
        expected = "" if value == original else answer_for(b"Bearer " + value)
    response = send(name, path, headers=headers)
    assert response.status_code < SERVER_ERROR
    assert response.status_code in {200, 400, 401, 403} | ROUTING
    # The middleware runs before routing: on a protected path, whether or
    # not a route exists, a bad or missing token gets the canonical answer.
    if expected and response.request.url.path not in target(name).exempt:
        assert shape(response) == canonical(name)[expected]


PEERS = [
    ("10.0.0.5", True),
    ("::ffff:10.0.0.5", True),
    ("2001:db8::7", True),
    ("203.0.113.9", False),
    ("::1", False),
    ("fe80::1%eth0", False),
    ("not-an-address", False),
    ("", False),
]
proto_values = st.one_of(
    st.sampled_from(
        [b"https", b"http", b"HTTPS", b"wss", b"https, http", b"http, https", b"", b"https "]
    ),
    field_bytes,
)
forwarded_values = st.one_of(
    st.sampled_from(
        [
            b"proto=https", b"for=1.2.3.4;proto=https", b"proto=http, proto=https",
            b"proto=https, proto=http", b'proto="https"', b"proto=https;proto=https",
            b"for=1.2.3.4, for=5.6.7.8;proto=https", b"proto=", b";;,,",
        ]
    ),
    field_bytes,
)


@FUZZ
@given(
    peer=st.sampled_from(PEERS),
    secure=st.booleans(),
    forwarding=st.lists(
        st.one_of(
            st.tuples(st.just("x-forwarded-proto"), proto_values),
            st.tuples(st.just("forwarded"), forwarded_values),
        ),
        max_size=3,
    ),
)
def test_middleware_forwarded_headers_believed_only_from_trusted_peers(
    peer: tuple[str, bool], secure: bool, forwarding: list[tuple[str, bytes]]
) -> None:
    address, trusted = peer
    headers = [*forwarding, ("authorization", b"Bearer " + token().encode("ascii"))]
    response = send("tiny", scheme="https" if secure else "http", headers=headers, peer=address)
    refused = shape(response) == canonical("tiny")["insecure_transport"]
    if secure:
        assert response.json() == {"sub": "alice"}
    elif not trusted or not forwarding:
        assert refused
    else:
        assert refused or response.json() == {"sub": "alice"}


@pytest.mark.parametrize("name", ["example", "tiny"])
def test_middleware_canonical_answers_are_distinct(name: str) -> None:
    answers = canonical(name)
    assert len({repr(answer) for answer in answers.values()}) == len(answers)
    assert answers["invalid_token"][2] == b'{"detail":"Invalid token"}'
