"""Token extraction from Authorization and cookies (RFC 6750 section 2)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jwe_middleware import AmbiguousCredentials
from jwe_middleware._extract import TokenExtractor, _is_b64token

EXTRACTOR = TokenExtractor(cookie_name="session")


@pytest.mark.parametrize(
    ("headers", "token"),
    [
        ([], None),
        ([(b"authorization", b"Bearer a.b.c.d.e")], b"a.b.c.d.e"),
        ([(b"authorization", b"bearer   a.b.c.d.e")], b"a.b.c.d.e"),
        ([(b"authorization", b"BEARER abc==")], b"abc=="),
        ([(b"authorization", b"Basic dXNlcjpwYXNz")], None),
        ([(b"cookie", b"theme=dark; session=a.b.c.d.e")], b"a.b.c.d.e"),
        ([(b"cookie", b'session="a.b"')], b"a.b"),
        ([(b"cookie", b"sessionx=a.b; xsession=c.d")], None),
        ([(b"cookie", b"session=")], None),
    ],
)
def test_extract_finds_one_token_or_none(
    headers: list[tuple[bytes, bytes]], token: bytes | None
) -> None:
    assert EXTRACTOR.extract(headers) == token


@pytest.mark.parametrize(
    "headers",
    [
        [(b"authorization", b"Bearer a"), (b"authorization", b"Bearer b")],
        [(b"authorization", b"Bearer a"), (b"cookie", b"session=b")],
        [(b"cookie", b"session=a"), (b"cookie", b"session=b")],
        [(b"cookie", b"session=a; session=b")],
        [(b"authorization", b"Bearer")],
        [(b"authorization", b"Bearer a b")],
        [(b"authorization", b"Bearer a=b")],
        [(b"authorization", b"Bearer ===")],
        [(b"authorization", b"Bearer \xff\xfe")],
        [(b"authorization", b"Bearer\ta.b.c.d.e")],
        [(b"authorization", b"bearer\t a.b.c.d.e")],
    ],
)
def test_extract_two_tokens_or_malformed_bearer_is_ambiguous(
    headers: list[tuple[bytes, bytes]],
) -> None:
    with pytest.raises(AmbiguousCredentials):
        EXTRACTOR.extract(headers)


def test_extract_cookie_not_read_unless_named() -> None:
    assert TokenExtractor().extract([(b"cookie", b"session=a.b")]) is None


@pytest.mark.parametrize("name", ["", "séance"])
def test_extract_bad_cookie_name_is_value_error(name: str) -> None:
    with pytest.raises(ValueError):
        TokenExtractor(cookie_name=name)


@given(
    st.lists(
        st.tuples(st.sampled_from([b"authorization", b"cookie", b"x-other"]), st.binary()),
        max_size=4,
    )
)
def test_extract_any_headers_give_token_none_or_ambiguous(
    headers: list[tuple[bytes, bytes]],
) -> None:
    try:
        token = EXTRACTOR.extract(headers)
    except AmbiguousCredentials:
        return
    assert token is None or (isinstance(token, bytes) and token)


# The b64token rule of RFC 6750 section 2.1, written as its grammar reads.
B64TOKEN_GRAMMAR = re.compile(rb"[A-Za-z0-9\-._~+/]+=*")
GRAMMAR_BYTES = st.sampled_from(list(b"AZaz09-._~+/=") + [0, 32, 0x3D, 0x7F, 0xFF, ord("%")])


@given(st.binary(max_size=64) | st.lists(GRAMMAR_BYTES, max_size=64).map(bytes))
def test_is_b64token_agrees_with_the_rfc_grammar(value: bytes) -> None:
    assert _is_b64token(value) is (B64TOKEN_GRAMMAR.fullmatch(value) is not None)


@pytest.mark.parametrize(
    ("value", "valid"),
    [(b"abc", True), (b"a.b~c+/", True), (b"abc==", True), (b"==", False), (b"", False),
     (b"ab=c", False), (b"a b", False), (b"a\nb", False), (b"abc=\n", False)],
)
def test_is_b64token_table(value: bytes, valid: bool) -> None:
    assert _is_b64token(value) is valid
