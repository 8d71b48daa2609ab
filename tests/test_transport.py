from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jwe_middleware._transport import TransportPolicy

PROXIES = ("10.0.0.0/8", "fd00::/8", "127.0.0.1")
TRUSTED_PEER = ("10.0.0.1", 1234)
UNTRUSTED_PEER = ("203.0.113.7", 1234)

Headers = list[tuple[bytes, bytes]]


def make_scope(
    *,
    scheme: str = "http",
    client: Any = TRUSTED_PEER,
    headers: Headers | None = None,
    scope_type: str = "http",
) -> dict[str, Any]:
    return {
        "type": scope_type,
        "scheme": scheme,
        "client": client,
        "headers": headers or [],
        "path": "/",
    }


@pytest.fixture
def policy() -> TransportPolicy:
    return TransportPolicy(trusted_proxies=PROXIES)


# -- scheme ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope_type", "scheme", "expected"),
    [
        ("http", "http", False),
        ("http", "https", True),
        ("websocket", "ws", False),
        ("websocket", "wss", True),
        ("http", "HTTPS", False),
        ("http", "", False),
    ],
)
def test_is_secure_scheme_alone_decides(scope_type: str, scheme: str, expected: bool) -> None:
    scope = make_scope(scope_type=scope_type, scheme=scheme, client=UNTRUSTED_PEER)
    assert TransportPolicy().is_secure(scope) is expected


def test_is_secure_scheme_missing_insecure() -> None:
    scope = make_scope()
    del scope["scheme"]
    assert TransportPolicy(trusted_proxies=PROXIES).is_secure(scope) is False


def test_is_secure_https_scheme_with_untrusted_http_header_secure() -> None:
    scope = make_scope(
        scheme="https",
        client=UNTRUSTED_PEER,
        headers=[(b"x-forwarded-proto", b"http")],
    )
    assert TransportPolicy().is_secure(scope) is True


# -- forwarded headers from a trusted peer -----------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([], False),
        ([(b"x-forwarded-proto", b"https")], True),
        ([(b"x-forwarded-proto", b"wss")], True),
        ([(b"x-forwarded-proto", b"HTTPS")], True),
        ([(b"x-forwarded-proto", b" https ")], True),
        ([(b"x-forwarded-proto", b"http")], False),
        ([(b"x-forwarded-proto", b"ws")], False),
        ([(b"x-forwarded-proto", b"")], False),
        ([(b"x-forwarded-proto", b"https-ish")], False),
        ([(b"x-forwarded-proto", b"http, https")], True),
        ([(b"x-forwarded-proto", b"https, http")], False),
        ([(b"x-forwarded-proto", b"https,")], False),
        ([(b"x-forwarded-proto", b"http"), (b"x-forwarded-proto", b"https")], True),
        ([(b"x-forwarded-proto", b"https"), (b"x-forwarded-proto", b"http")], False),
        ([(b"X-Forwarded-Proto", b"https")], True),
        ([(b"x-forwarded-proto", "https\u00e9".encode())], False),
        ([(b"x-forwarded-proto", b"\xff\xfe")], False),
        ([(b"x-forwarded-proto", b"https" * 10_000)], False),
    ],
)
def test_is_secure_trusted_peer_x_forwarded_proto_last_value_decides(
    policy: TransportPolicy, headers: Headers, expected: bool
) -> None:
    assert policy.is_secure(make_scope(headers=headers)) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"proto=https", True),
        (b"proto=wss", True),
        (b"proto=HTTPS", True),
        (b"Proto=https", True),
        (b'proto="https"', True),
        (b'proto="ht\\tps"', True),
        (b"proto=http", False),
        (b'proto="http"', False),
        (b"for=192.0.2.60;proto=https;by=203.0.113.43", True),
        (b'for="[2001:db8:cafe::17]:4711";proto=https', True),
        (b'for="a, b; proto=http";proto=https', True),
        (b"for=192.0.2.60 ; proto=https", True),
        (b"for=192.0.2.43;proto=http, for=198.51.100.17;proto=https", True),
        (b"for=192.0.2.43;proto=https, for=198.51.100.17;proto=http", False),
        (b"proto=https, for=198.51.100.17", False),
        (b"proto=https,", False),
        (b"for=192.0.2.60", False),
        (b"proto=https;proto=https", False),
        (b"proto=https;proto=http", False),
        (b'proto="https', False),
        (b"proto=", False),
        (b"proto https", False),
        (b"proto=https for=x", False),
        (b"proto=ht tps", False),
        (b"garbage", False),
        (b"", False),
        (b"   ", False),
        (b"proto=\xffhttps", False),
        (b'proto="\x00https"', False),
        (b"for=x, " * 5_000 + b"proto=https", True),
    ],
)
def test_is_secure_trusted_peer_forwarded_last_element_decides(
    policy: TransportPolicy, value: bytes, expected: bool
) -> None:
    scope = make_scope(headers=[(b"forwarded", value)])
    assert policy.is_secure(scope) is expected


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([b"proto=http", b"proto=https"], True),
        ([b"proto=https", b"proto=http"], False),
        ([b"proto=https", b"garbage"], False),
        ([b"garbage", b"proto=https"], True),
    ],
)
def test_is_secure_forwarded_several_lines_last_line_decides(
    policy: TransportPolicy, lines: list[bytes], expected: bool
) -> None:
    scope = make_scope(headers=[(b"forwarded", line) for line in lines])
    assert policy.is_secure(scope) is expected


@pytest.mark.parametrize(
    ("x_forwarded_proto", "forwarded", "expected"),
    [
        (b"https", b"proto=https", True),
        (b"HTTPS", b'proto="https"', True),
        (b"https", b"proto=http", False),
        (b"http", b"proto=https", False),
        (b"https", b"for=192.0.2.60", False),
        (b"https", b"garbage", False),
        (b"garbage", b"proto=https", False),
    ],
)
def test_is_secure_both_headers_present_must_agree(
    policy: TransportPolicy, x_forwarded_proto: bytes, forwarded: bytes, expected: bool
) -> None:
    headers = [(b"x-forwarded-proto", x_forwarded_proto), (b"forwarded", forwarded)]
    assert policy.is_secure(make_scope(headers=headers)) is expected


# -- which peers are trusted -------------------------------------------------


@pytest.mark.parametrize(
    ("client", "expected"),
    [
        (("10.0.0.1", 1234), True),
        (("10.255.255.254", 80), True),
        (("127.0.0.1", 5000), True),
        (("fd00::1", 1234), True),
        (("fdff:ffff::1", 1234), True),
        (("::ffff:10.0.0.1", 1234), True),
        (("fd00::1%eth0", 1234), True),
        (("11.0.0.1", 1234), False),
        (("127.0.0.2", 5000), False),
        (("::1", 5000), False),
        (("fe80::1", 1234), False),
        (("2001:db8::1", 1234), False),
        (None, False),
        ((), False),
        (("localhost", 1234), False),
        (("10.0.0.1:1234", 1234), False),
        (("", 0), False),
        ((167772161, 0), False),
    ],
)
def test_is_secure_peer_address_trust_decides(
    policy: TransportPolicy, client: Any, expected: bool
) -> None:
    scope = make_scope(client=client, headers=[(b"x-forwarded-proto", b"https")])
    assert policy.is_secure(scope) is expected


def test_is_secure_client_key_missing_insecure(policy: TransportPolicy) -> None:
    scope = make_scope(headers=[(b"x-forwarded-proto", b"https")])
    del scope["client"]
    assert policy.is_secure(scope) is False


@pytest.mark.parametrize(
    "headers",
    [
        [(b"x-forwarded-proto", b"https")],
        [(b"forwarded", b"proto=https")],
        [(b"x-forwarded-proto", b"https"), (b"forwarded", b"proto=https")],
    ],
)
def test_is_secure_no_proxies_configured_headers_ignored(headers: Headers) -> None:
    scope = make_scope(client=("127.0.0.1", 1234), headers=headers)
    assert TransportPolicy().is_secure(scope) is False


def test_is_secure_untrusted_peer_headers_ignored(policy: TransportPolicy) -> None:
    headers = [(b"x-forwarded-proto", b"https"), (b"forwarded", b"proto=https")]
    assert policy.is_secure(make_scope(client=UNTRUSTED_PEER, headers=headers)) is False


# -- configuration -----------------------------------------------------------


@pytest.mark.parametrize(
    "entry",
    ["10.0.0.0/33", "not-an-ip", "", "10.0.0", "fd00::/129", "10.0.0.1/8/8", "::g"],
)
def test_policy_bad_proxy_entry_raises_value_error_naming_it(entry: str) -> None:
    with pytest.raises(ValueError, match="trusted_proxies entry") as excinfo:
        TransportPolicy(trusted_proxies=["10.0.0.0/8", entry])
    assert repr(entry) in str(excinfo.value)


@pytest.mark.parametrize("proxies", ["10.0.0.1", b"10.0.0.1", [167772161], [b"\n\x00\x00\x01"]])
def test_policy_proxies_not_strings_raises_type_error(proxies: Any) -> None:
    with pytest.raises(TypeError):
        TransportPolicy(trusted_proxies=proxies)


@pytest.mark.parametrize(
    "proxies",
    [["10.0.0.0/8"], ["10.1.2.3/8"], [" 10.0.0.0/8 "], ("10.0.0.1",), iter(["10.0.0.0/8"])],
)
def test_policy_good_proxy_entries_accepted(proxies: Any) -> None:
    policy = TransportPolicy(trusted_proxies=proxies)
    scope = make_scope(headers=[(b"x-forwarded-proto", b"https")])
    assert policy.is_secure(scope) is True


# -- client_address ----------------------------------------------------------


@pytest.mark.parametrize(
    ("client", "x_forwarded_for", "expected"),
    [
        (UNTRUSTED_PEER, [], "203.0.113.7"),
        (UNTRUSTED_PEER, [b"198.51.100.1"], "203.0.113.7"),
        (TRUSTED_PEER, [], "10.0.0.1"),
        (TRUSTED_PEER, [b"198.51.100.1"], "198.51.100.1"),
        (TRUSTED_PEER, [b" 198.51.100.1 "], "198.51.100.1"),
        (TRUSTED_PEER, [b"192.0.2.9, 198.51.100.1"], "198.51.100.1"),
        (TRUSTED_PEER, [b"192.0.2.9, 198.51.100.1, 10.0.0.2"], "198.51.100.1"),
        (TRUSTED_PEER, [b"198.51.100.1, 10.0.0.3, 127.0.0.1"], "198.51.100.1"),
        (TRUSTED_PEER, [b"198.51.100.1", b"10.0.0.2"], "198.51.100.1"),
        (TRUSTED_PEER, [b"10.0.0.2, 10.0.0.3"], "10.0.0.1"),
        (TRUSTED_PEER, [b"2001:db8::1"], "2001:db8::1"),
        (TRUSTED_PEER, [b"2001:DB8:0::1"], "2001:db8::1"),
        (TRUSTED_PEER, [b"::ffff:198.51.100.1"], "198.51.100.1"),
        (TRUSTED_PEER, [b"fe80::1%eth0"], "fe80::1"),
        (TRUSTED_PEER, [b"fe80::1%\nforged log line"], "fe80::1"),
        (TRUSTED_PEER, [b"198.51.100.1, unknown"], "10.0.0.1"),
        (TRUSTED_PEER, [b"198.51.100.1:4711"], "10.0.0.1"),
        (TRUSTED_PEER, [b"[2001:db8::1]"], "10.0.0.1"),
        (TRUSTED_PEER, [b"198.51.100.1\r\nx: y"], "10.0.0.1"),
        (TRUSTED_PEER, [b"\xff\xfe"], "10.0.0.1"),
        (TRUSTED_PEER, [b""], "10.0.0.1"),
        (TRUSTED_PEER, [b","], "10.0.0.1"),
        (("fd00::5", 1), [b"198.51.100.1"], "198.51.100.1"),
        (("::ffff:10.0.0.1", 1), [b"198.51.100.1"], "198.51.100.1"),
        (("::ffff:203.0.113.7", 1), [b"198.51.100.1"], "203.0.113.7"),
        (("2001:db8::7", 1), [b"198.51.100.1"], "2001:db8::7"),
        (("fe80::7%eth0", 1), [], "fe80::7"),
        (None, [b"198.51.100.1"], "-"),
        ((), [], "-"),
        (("localhost", 1), [b"198.51.100.1"], "-"),
        (("203.0.113.7\nforged", 1), [], "-"),
        ((167772161, 1), [b"198.51.100.1"], "-"),
    ],
)
def test_client_address_peer_and_forwarded_for_resolves(
    policy: TransportPolicy, client: Any, x_forwarded_for: list[bytes], expected: str
) -> None:
    headers = [(b"x-forwarded-for", value) for value in x_forwarded_for]
    assert policy.client_address(make_scope(client=client, headers=headers)) == expected


def test_client_address_no_proxies_configured_peer() -> None:
    scope = make_scope(client=("127.0.0.1", 1), headers=[(b"x-forwarded-for", b"192.0.2.9")])
    assert TransportPolicy().client_address(scope) == "127.0.0.1"


# -- HSTS ----------------------------------------------------------------------


def test_hsts_header_default_precomputed() -> None:
    assert TransportPolicy().hsts_header == (
        b"strict-transport-security",
        b"max-age=63072000; includeSubDomains",
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("max-age=300", (b"strict-transport-security", b"max-age=300")),
        (
            "max-age=63072000; includeSubDomains; preload",
            (b"strict-transport-security", b"max-age=63072000; includeSubDomains; preload"),
        ),
    ],
)
def test_hsts_header_valid_value_accepted(
    value: str | None, expected: tuple[bytes, bytes] | None
) -> None:
    assert TransportPolicy(hsts=value).hsts_header == expected


@pytest.mark.parametrize(
    "value",
    [
        "max-age=300\r\nSet-Cookie: a=b",
        "max-age=300\n",
        "max-age=300\r",
        "max-age=300\x00",
        "max-age=\u0663\u0660\u0660",
        "max-age=300\u2028",
        "",
        "   ",
    ],
)
def test_hsts_header_invalid_value_raises_value_error(value: str) -> None:
    with pytest.raises(ValueError, match="hsts"):
        TransportPolicy(hsts=value)


def test_hsts_header_not_a_string_raises_type_error() -> None:
    with pytest.raises(TypeError):
        TransportPolicy(hsts=b"max-age=300")  # type: ignore[arg-type]


# -- properties ------------------------------------------------------------------

header_names = st.sampled_from(
    [b"x-forwarded-proto", b"forwarded", b"x-forwarded-for", b"X-Forwarded-Proto"]
) | st.binary(max_size=20)
header_lists = st.lists(st.tuples(header_names, st.binary(max_size=300)), max_size=6)
forwarded_like = st.lists(
    st.sampled_from([b"proto=", b"https", b"http", b";", b",", b'"', b"\\", b" ", b"for=", b"="]),
    max_size=30,
).map(b"".join)
peers = st.sampled_from([TRUSTED_PEER, UNTRUSTED_PEER, ("fd00::1", 1), None])


@given(headers=header_lists, client=peers)
def test_is_secure_arbitrary_headers_never_raises(headers: Headers, client: Any) -> None:
    policy = TransportPolicy(trusted_proxies=PROXIES)
    assert isinstance(policy.is_secure(make_scope(client=client, headers=headers)), bool)


@given(value=forwarded_like)
def test_is_secure_forwarded_like_bytes_never_raises(value: bytes) -> None:
    policy = TransportPolicy(trusted_proxies=PROXIES)
    scope = make_scope(headers=[(b"forwarded", value)])
    assert isinstance(policy.is_secure(scope), bool)


@given(headers=header_lists, client=peers)
def test_client_address_arbitrary_headers_returns_ip_or_dash(headers: Headers, client: Any) -> None:
    policy = TransportPolicy(trusted_proxies=PROXIES)
    address = policy.client_address(make_scope(client=client, headers=headers))
    assert address == "-" or str(ipaddress.ip_address(address)) == address


@given(value=st.binary(max_size=300))
def test_client_address_arbitrary_forwarded_for_never_raises(value: bytes) -> None:
    policy = TransportPolicy(trusted_proxies=PROXIES)
    scope = make_scope(headers=[(b"x-forwarded-for", value)])
    assert isinstance(policy.client_address(scope), str)
