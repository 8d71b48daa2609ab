"""The interoperability peers vouch for each other before they vouch for us.

Every peer mints each case once; every peer opens every batch. If jwcrypto,
joserfc and panva/jose all agree, a disagreement with jwe-middleware later is
the middleware's, not the harness's.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from typing import cast

import pytest
from joserfc import jwe as rfc_jwe
from joserfc import jwk as rfc_jwk

from tests.interop import _node
from tests.interop.peers import (
    PEERS,
    MintSpec,
    NodeJosePeer,
    OpenSpec,
    Peer,
    PeerError,
    make_jwk,
    node_available,
    protected_header,
    public_jwk,
    requires_node,
)

Claims = dict[str, object]
Jwk = dict[str, object]


@dataclass(frozen=True)
class Case:
    id: str
    alg: str
    enc: str
    sign_alg: str | None = None


CASES = [
    Case("dir+A256GCM", "dir", "A256GCM"),
    Case("A256KW+A256GCM", "A256KW", "A256GCM"),
    Case("RSA-OAEP-256+A256GCM", "RSA-OAEP-256", "A256GCM"),
    Case("ES256-in-RSA-OAEP-256", "RSA-OAEP-256", "A256GCM", "ES256"),
    Case("RS256-in-RSA-OAEP-256", "RSA-OAEP-256", "A256GCM", "RS256"),
]

# Every JSON type, non-ASCII text and a float, so encoders cannot quietly differ.
BASE_CLAIMS: Claims = {
    "iss": "https://issuer.example",
    "sub": "alice",
    "aud": ["api", "admin"],
    "iat": 1_700_000_000,
    "exp": 4_102_444_800,
    "name": "Zoë Ñandú ☃",
    "admin": False,
    "ratio": 1.5,
    "extra": {"nothing": None, "list": [1, "two", True]},
}


def _peer_param(peer: Peer) -> object:
    marks = [requires_node] if isinstance(peer, NodeJosePeer) else []
    return pytest.param(peer, id=peer.name, marks=marks)


def _pair_param(minter: Peer, opener: Peer) -> object:
    uses_node = isinstance(minter, NodeJosePeer) or isinstance(opener, NodeJosePeer)
    marks = [requires_node] if uses_node else []
    return pytest.param(minter, opener, id=f"{minter.name}->{opener.name}", marks=marks)


PEER_PARAMS = [_peer_param(peer) for peer in PEERS]
PAIR_PARAMS = [_pair_param(minter, opener) for minter in PEERS for opener in PEERS]
CASE_PARAMS = [pytest.param(case, id=case.id) for case in CASES]
NESTED_PARAMS = [pytest.param(case, id=case.id) for case in CASES if case.sign_alg]
# The fixtures for failure paths: one plain token, one nested token.
PLAIN_CASE, NESTED_CASE = CASES[1], CASES[3]


@dataclass(frozen=True)
class CaseKeys:
    enc: Jwk
    sign: Jwk | None


class Matrix:
    """Mints every case once per peer, and opens each peer's batch once per opener."""

    def __init__(self) -> None:
        self.keys = {case.id: _case_keys(case) for case in CASES}
        self._tokens: dict[str, list[str]] = {}
        self._opened: dict[tuple[str, str], list[Claims | PeerError]] = {}

    def claims(self, minter: Peer, case: Case) -> Claims:
        # The jti names minter and case, so a token opened in the wrong slot shows.
        return {**BASE_CLAIMS, "jti": f"{minter.name}/{case.id}"}

    def tokens(self, minter: Peer) -> list[str]:
        if minter.name not in self._tokens:
            specs = [self._spec(minter, case) for case in CASES]
            self._tokens[minter.name] = minter.mint(specs)
        return self._tokens[minter.name]

    def opened(self, minter: Peer, opener: Peer) -> list[Claims | PeerError]:
        pair = (minter.name, opener.name)
        if pair not in self._opened:
            items = [self._open_spec(case, token) for case, token in self._minted(minter)]
            self._opened[pair] = opener.open_many(items)
        return self._opened[pair]

    def _minted(self, minter: Peer) -> list[tuple[Case, str]]:
        return list(zip(CASES, self.tokens(minter), strict=True))

    def _spec(self, minter: Peer, case: Case) -> MintSpec:
        keys = self.keys[case.id]
        return MintSpec(
            claims=self.claims(minter, case),
            enc_jwk=public_jwk(keys.enc),
            alg=case.alg,
            enc=case.enc,
            sign_jwk=keys.sign,
            sign_alg=case.sign_alg,
        )

    def _open_spec(self, case: Case, token: str) -> OpenSpec:
        keys = self.keys[case.id]
        verify_jwk = public_jwk(keys.sign) if keys.sign is not None else None
        return OpenSpec(token, keys.enc, verify_jwk)


def _case_keys(case: Case) -> CaseKeys:
    enc = make_jwk(case.alg, f"enc-{case.id}", enc=case.enc)
    sign = make_jwk(case.sign_alg, f"sig-{case.id}") if case.sign_alg else None
    return CaseKeys(enc, sign)


@pytest.fixture(scope="module")
def matrix() -> Matrix:
    return Matrix()


@pytest.mark.parametrize("case", CASE_PARAMS)
@pytest.mark.parametrize(("minter", "opener"), PAIR_PARAMS)
def test_peer_token_opened_by_every_peer_same_claims(
    matrix: Matrix, minter: Peer, opener: Peer, case: Case
) -> None:
    opened = matrix.opened(minter, opener)[CASES.index(case)]

    assert opened == matrix.claims(minter, case)


@pytest.mark.parametrize("case", CASE_PARAMS)
@pytest.mark.parametrize("minter", PEER_PARAMS)
def test_peer_mint_outer_header_exact(matrix: Matrix, minter: Peer, case: Case) -> None:
    token = matrix.tokens(minter)[CASES.index(case)]
    expected: dict[str, object] = {
        "alg": case.alg,
        "enc": case.enc,
        "kid": matrix.keys[case.id].enc["kid"],
    }
    if case.sign_alg is not None:
        expected["cty"] = "JWT"

    assert protected_header(token) == expected


@pytest.mark.parametrize("case", NESTED_PARAMS)
@pytest.mark.parametrize("minter", PEER_PARAMS)
def test_peer_mint_nested_inner_header_exact(matrix: Matrix, minter: Peer, case: Case) -> None:
    keys = matrix.keys[case.id]
    assert keys.sign is not None
    token = matrix.tokens(minter)[CASES.index(case)]

    inner = _decrypt_outer_layer(token, keys.enc, case)

    assert protected_header(inner) == {"alg": case.sign_alg, "kid": keys.sign["kid"], "typ": "JWT"}


def _decrypt_outer_layer(token: str, dec_jwk: Jwk, case: Case) -> str:
    key = rfc_jwk.import_key(cast("dict[str, str | list[str]]", dec_jwk))
    opened = rfc_jwe.decrypt_compact(token, key, algorithms=[case.alg, case.enc])
    return (opened.plaintext or b"").decode("ascii")


@pytest.fixture(scope="module")
def bad_batch(matrix: Matrix) -> list[OpenSpec]:
    """A good nested token first and last, five ways to fail in between."""
    keys = matrix.keys[NESTED_CASE.id]
    assert keys.sign is not None
    token = matrix.tokens(PEERS[0])[CASES.index(NESTED_CASE)]
    good = OpenSpec(token, keys.enc, public_jwk(keys.sign))
    stranger = make_jwk("ES256", "stranger")
    return [
        good,
        OpenSpec(token, make_jwk("A256KW", "stranger"), good.verify_jwk),
        OpenSpec(token, keys.enc, None),
        OpenSpec(token, keys.enc, public_jwk(stranger)),
        OpenSpec(_flip_last_tag_char(token), keys.enc, good.verify_jwk),
        OpenSpec("not.a.token", keys.enc, None),
        good,
    ]


def _flip_last_tag_char(token: str) -> str:
    head, tag = token.rsplit(".", 1)
    # The last base64url character carries whole bits only in "A", "Q", "g", "w".
    return f"{head}.{tag[:-1]}{'Q' if tag[-1] != 'Q' else 'A'}"


@pytest.mark.parametrize("opener", PEER_PARAMS)
def test_peer_open_many_bad_items_fail_alone(
    matrix: Matrix, bad_batch: list[OpenSpec], opener: Peer
) -> None:
    expected = matrix.claims(PEERS[0], NESTED_CASE)

    first, *middle, last = opener.open_many(bad_batch)

    assert first == expected
    assert last == expected
    assert [type(result) for result in middle] == [PeerError] * len(middle)
    assert {result.peer for result in middle if isinstance(result, PeerError)} == {opener.name}


@pytest.mark.parametrize("opener", PEER_PARAMS)
def test_peer_open_wrong_key_raises_peer_error(matrix: Matrix, opener: Peer) -> None:
    token = matrix.tokens(PEERS[0])[CASES.index(PLAIN_CASE)]
    stranger = make_jwk("A256KW", "stranger")

    with pytest.raises(PeerError) as raised:
        opener.open(token, stranger)

    assert raised.value.peer == opener.name


@requires_node
def test_node_peer_installed() -> None:
    assert node_available(), _node.MISSING_REASON


@requires_node
def test_node_peer_mint_unsupported_alg_raises_peer_error() -> None:
    key = make_jwk("A256KW", "k")
    # panva/jose does not implement RSA1_5 at all; one bad item fails the whole mint.
    specs = [MintSpec({}, key, "A256KW", "A256GCM"), MintSpec({}, key, "RSA1_5", "A256GCM")]

    with pytest.raises(PeerError, match="ERR_JOSE_NOT_SUPPORTED"):
        NodeJosePeer().mint(specs)


@requires_node
def test_node_peer_unknown_op_exits_1_with_error() -> None:
    done = subprocess.run(
        ["node", str(_node.PEER_SCRIPT)],
        input=json.dumps({"op": "sign", "items": []}),
        capture_output=True,
        text=True,
        timeout=_node.TIMEOUT_SECONDS,
        check=False,
    )

    assert done.returncode == 1
    assert "unknown op" in json.loads(done.stdout)["error"]


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_public_jwk_private_members_dropped(matrix: Matrix, case: Case) -> None:
    keys = matrix.keys[case.id]
    for private in filter(None, (keys.enc, keys.sign)):
        public = public_jwk(private)
        expected_secret = {"k"} if private["kty"] == "oct" else set()

        assert set(public) & {"d", "p", "q", "dp", "dq", "qi", "k"} == expected_secret
        assert {name: public[name] for name in ("kid", "alg", "use")} == {
            name: private[name] for name in ("kid", "alg", "use")
        }


def test_make_jwk_dir_labelled_with_content_encryption() -> None:
    key = make_jwk("dir", "direct", enc="A128CBC-HS256")

    assert key["alg"] == "A128CBC-HS256"
    assert key["use"] == "enc"
    assert len(str(key["k"])) == 43
