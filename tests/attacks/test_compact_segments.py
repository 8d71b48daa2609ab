"""The compact serialization itself: segment count, base64url spelling, empty
segments, size, truncation.

RFC 7516 section 7.1: exactly five base64url segments. RFC 7515 section 2:
base64url without padding. A token has one spelling only, or the same token
could be replayed under another string (a cache or revocation list keyed by
the token text would then miss it).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest

from jwe_middleware import DecryptionFailed, MalformedToken, TokenError, TokenTooLarge
from jwe_middleware import decoder as decoder_module

from ._forge import (
    CBC_POLICY,
    Token,
    assert_refused,
    awkward_token,
    decoder,
    is_canonical,
    keys,
    nested,
)

FIELDS = Token._fields
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@pytest.fixture(scope="module")
def awkward() -> Token:
    return awkward_token()


def test_decode_awkward_token_control_passes(awkward: Token) -> None:
    assert decoder(content_algorithms=CBC_POLICY).decode(awkward.compact)["sub"] == "alice"


# -- base64url spellings -------------------------------------------------------


def _padded(segment: str) -> str:
    return segment + "=" * (-len(segment) % 4)


def _standard_alphabet(segment: str) -> str:
    return segment.translate(str.maketrans("-_", "+/"))


def _spare_bits_set(segment: str) -> str:
    # RFC 4648 section 3.5: the bits after the last full byte must be zero;
    # setting the lowest one gives a second spelling of the same bytes.
    last = _ALPHABET.index(segment[-1])
    return segment[:-1] + _ALPHABET[last | 1]


def _inner_space(segment: str) -> str:
    return segment[:4] + " " + segment[4:]


def _trailing_newline(segment: str) -> str:
    return segment + "\n"


SPELLINGS = {
    "padded": _padded,
    "standard-alphabet": _standard_alphabet,
    "spare-bits": _spare_bits_set,
    "inner-space": _inner_space,
    "trailing-newline": _trailing_newline,
}


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("spelling", SPELLINGS.values(), ids=SPELLINGS)
def test_decode_segment_misspelt_malformed(
    awkward: Token, field: str, spelling: Callable[[str], str]
) -> None:
    respelt = spelling(getattr(awkward, field))
    assert respelt != getattr(awkward, field)
    token = awkward._replace(**{field: respelt})
    assert_refused(decoder(content_algorithms=CBC_POLICY), token, MalformedToken, "malformed")


@pytest.mark.parametrize("field", FIELDS)
def test_decode_spare_bits_decode_to_same_bytes(awkward: Token, field: str) -> None:
    # The non-canonical spelling is a true alias: a lenient decoder reads the
    # same bytes from it, so refusing it is the decoder's doing.
    segment = getattr(awkward, field)
    alias = _spare_bits_set(segment)
    lenient = base64.urlsafe_b64decode(_padded(alias))
    assert lenient == base64.urlsafe_b64decode(_padded(segment))
    assert not is_canonical(alias)


# -- segment count -------------------------------------------------------------

RESHAPES = {
    "four-segments": lambda t: ".".join(t[:4]),
    "six-segments": lambda t: t.compact + "." + t.tag,
    "six-empty-last": lambda t: t.compact + ".",
    "leading-dot": lambda t: "." + t.compact,
    "doubled-dot": lambda t: t.compact.replace(".", "..", 1),
    "three-segments": lambda t: ".".join(t[:3]),
    "one-segment": lambda t: t.header,
    "jws-shaped": lambda t: f"{t.header}.{t.ciphertext}.{t.tag}",
    "only-dots": lambda t: "....",
    "empty": lambda t: "",
}


@pytest.mark.parametrize("reshape", RESHAPES.values(), ids=RESHAPES)
def test_decode_wrong_segment_count_malformed(reshape: Callable[[Token], str]) -> None:
    token = reshape(nested())
    assert_refused(decoder(), token, MalformedToken, "malformed")


# (segment emptied, expected refusal) on an RSA-OAEP-256 token
EMPTIED = [
    ("header", MalformedToken, "malformed"),
    ("encrypted_key", DecryptionFailed, "decryption_failed"),
    ("iv", DecryptionFailed, "decryption_failed"),
    ("ciphertext", DecryptionFailed, "decryption_failed"),
    ("tag", DecryptionFailed, "decryption_failed"),
]


@pytest.mark.parametrize(("field", "expected", "code"), EMPTIED)
def test_decode_empty_segment_refused(
    field: str, expected: type[TokenError], code: str
) -> None:
    # RFC 7516 section 5.2 steps 1 and 2: each part must decode to what its
    # algorithm needs; empty IV, tag or RSA encrypted key never do.
    token = nested()._replace(**{field: ""})
    assert_refused(decoder(), token, expected, code)


# -- size ----------------------------------------------------------------------


@pytest.fixture
def no_split(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    calls: list[bytes] = []

    def refuse(token: bytes) -> object:
        calls.append(token)
        raise AssertionError("an oversized token was parsed")

    monkeypatch.setattr(decoder_module, "split_jwe", refuse)
    return calls


@pytest.mark.parametrize("size", [8 * 1024 + 1, 64 * 1024, 4 * 1024 * 1024])
def test_decode_oversized_token_too_large_unparsed(size: int, no_split: list[bytes]) -> None:
    # The size limit comes before any parsing: a huge token costs one length
    # check, not a base64 decode or a JSON parse.
    token = nested()
    huge = token._replace(ciphertext=token.ciphertext + "A" * (size - len(token.compact)))
    assert len(huge.compact) == size
    assert_refused(decoder(), huge, TokenTooLarge, "too_large")
    assert_refused(decoder(), huge.compact.encode("ascii"), TokenTooLarge, "too_large")
    assert no_split == []


def test_decode_huge_header_too_large_unparsed(no_split: list[bytes]) -> None:
    token = nested(header={"x": "h" * 100_000})
    assert_refused(decoder(), token, TokenTooLarge, "too_large")
    assert no_split == []


def test_decode_token_at_limit_passes_one_over_too_large() -> None:
    # A long header is fine as long as the whole token fits: the limit is the
    # one bound, and it is exact.
    token = nested(header={"x": "h" * 5000}).compact
    assert 5000 < len(token) <= 8 * 1024
    assert decoder(max_token_bytes=len(token)).decode(token)["sub"] == "alice"
    assert_refused(decoder(max_token_bytes=len(token) - 1), token, TokenTooLarge, "too_large")


def test_decode_non_ascii_token_malformed() -> None:
    token = nested().compact
    assert_refused(decoder(), token[:10] + "é" + token[11:], MalformedToken, "malformed")
    assert_refused(decoder(), token.encode() + b"\xff", MalformedToken, "malformed")


@pytest.mark.parametrize("value", [None, 7, ["a.b.c.d.e"], bytearray(b"a.b.c.d.e")])
def test_decode_non_string_token_malformed(value: Any) -> None:
    assert_refused(decoder(), value, MalformedToken, "malformed")


# -- truncation ----------------------------------------------------------------


def _expected_for_prefix(prefix: str) -> type[TokenError]:
    # An oracle built apart from the decoder: fewer than five segments, or a
    # partial tag that is not canonical base64url, is malformed; anything else
    # fails at the tag length.
    segments = prefix.split(".")
    if len(segments) != 5 or not all(is_canonical(part) for part in segments):
        return MalformedToken
    return DecryptionFailed


@pytest.mark.parametrize("recipient", ["rsa", "kw", "direct"])
def test_decode_every_prefix_refused(recipient: str) -> None:
    # RFC 7516 section 5.2 step 1: a truncated token must fail whole, at
    # whatever length it was cut.
    token = nested(recipient=getattr(keys(), recipient)).compact
    strict = decoder()
    for length in range(len(token)):
        prefix = token[:length]
        expected = _expected_for_prefix(prefix)
        with pytest.raises(TokenError) as caught:
            strict.decode(prefix)
        assert type(caught.value) is expected, (length, caught.value.detail)
        assert caught.value.code == expected.code
