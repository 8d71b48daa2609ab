"""jwe-middleware against three independent JOSE implementations, in both directions.

Tokens minted by jwcrypto, joserfc and panva/jose must pass ``TokenDecoder`` with
the claims they were minted with, or be refused with a pinned reason code and no
other exception. Tokens from ``TokenIssuer`` must open in every peer with the
claims they were issued with. Each peer mints its whole batch once and opens its
whole batch once: every call to the node peer starts a process.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pytest

from jwe_middleware import (
    Key,
    KeyRing,
    TokenDecoder,
    TokenError,
    TokenIssuer,
    generate_key,
)
from tests.interop.peers import (
    PEERS,
    MintSpec,
    NodeJosePeer,
    OpenSpec,
    Peer,
    PeerError,
    make_jwk,
    public_jwk,
    requires_node,
)

Claims = dict[str, object]
Jwk = dict[str, Any]

NOW = 1_750_000_000
ISSUER = "https://issuer.example"
AUDIENCE = "orders-api"
AUDIENCES = [AUDIENCE, "billing-api"]
LIFETIME = 600

# Personal data as OpenID Connect Core section 5.1 names it, in several scripts,
# so that an encoder that escapes, normalises or re-encodes text shows up.
PERSONAL_CLAIMS: Claims = {
    "sub": "user-4711",
    "name": "Zoë Ñandú-Øvergård",
    "nickname": "雪だるま ☃",
    "email": "zoe.nandu@example.org",
    "phone_number": "+41 44 668 18 00",
    "birthdate": "1990-04-01",
    "address": {"street_address": "Bahnhofstraße 1", "locality": "Zürich", "country": "CH"},
    "email_verified": True,
}
PEER_CLAIMS: Claims = {
    "iss": ISSUER,
    "aud": AUDIENCES,
    "iat": NOW - 60,
    "exp": NOW + LIFETIME,
    **PERSONAL_CLAIMS,
}

# RFC 7518 section 4.3: with RSA-OAEP anyone holding the public key can encrypt.
PUBLIC_KEY_MANAGEMENT = frozenset({"RSA-OAEP", "RSA-OAEP-256"})
# RFC 7518 section 5: what a dir key stands in for; panva/jose labels it so.
CONTENT_ALGS = frozenset(
    {"A128GCM", "A192GCM", "A256GCM", "A128CBC-HS256", "A192CBC-HS384", "A256CBC-HS512"}
)


@dataclass(frozen=True)
class Case:
    id: str
    alg: str
    enc: str
    sign_alg: str | None = None
    zip: str | None = None

    @property
    def enc_key_name(self) -> str:
        # A dir key is the content key itself, so its size follows enc.
        return f"dir/{self.enc}" if self.alg == "dir" else self.alg


@dataclass(frozen=True)
class Refusal:
    case: Case
    code: str
    # Peers that cannot mint the case at all, so it stays out of their batch.
    unminted_by: frozenset[str] = frozenset()


ACCEPTED = [
    Case("dir+A256GCM", "dir", "A256GCM"),
    Case("A256KW+A256GCM", "A256KW", "A256GCM"),
    Case("RSA-OAEP-256+A256GCM", "RSA-OAEP-256", "A256GCM"),
    Case("ES256-in-RSA-OAEP-256", "RSA-OAEP-256", "A256GCM", "ES256"),
    Case("RS256-in-RSA-OAEP-256", "RSA-OAEP-256", "A256GCM", "RS256"),
]
UNSIGNED_RSA_CASE = ACCEPTED[2]
CBC = [
    Case("dir+A128CBC-HS256", "dir", "A128CBC-HS256"),
    Case("A256KW+A256CBC-HS512", "A256KW", "A256CBC-HS512"),
]
REFUSALS = [
    Refusal(
        Case("EdDSA-in-RSA-OAEP-256", "RSA-OAEP-256", "A256GCM", "EdDSA"), "disallowed_algorithm"
    ),
    Refusal(
        Case("PS256-in-RSA-OAEP-256", "RSA-OAEP-256", "A256GCM", "PS256"), "disallowed_algorithm"
    ),
    Refusal(Case("ECDH-ES+A256GCM", "ECDH-ES", "A256GCM"), "disallowed_algorithm"),
    Refusal(Case("ECDH-ES+A256KW+A256GCM", "ECDH-ES+A256KW", "A256GCM"), "disallowed_algorithm"),
    Refusal(Case("A256KW+A256GCM+zip", "A256KW", "A256GCM", zip="DEF"), "unsupported_header"),
    # panva/jose has never implemented RSA1_5, so only the Python peers mint it.
    Refusal(
        Case("RSA1_5+A256GCM", "RSA1_5", "A256GCM"),
        "disallowed_algorithm",
        frozenset({NodeJosePeer.name}),
    ),
]
# CBC-HS content encryption is off by default and opted into one mode at a time:
# (case, content_algorithms), None standing for the default policy.
CBC_OPTED_IN: list[tuple[Case, list[str] | None]] = [
    (CBC[0], ["A256GCM", "A128CBC-HS256"]),
    (CBC[1], ["A256GCM", "A256CBC-HS512"]),
]
CBC_NOT_OPTED_IN: list[tuple[Case, list[str] | None]] = [
    (CBC[0], None),
    (CBC[1], None),
    (CBC[1], ["A256GCM", "A128CBC-HS256"]),
]
PEER_CASES = [*ACCEPTED, *CBC, *(refusal.case for refusal in REFUSALS)]
ISSUED_CASES = [*ACCEPTED, *CBC]

# joserfc warns when asked to mint EdDSA (RFC 9864) or RSA1_5; minting them is the point.
pytestmark = [
    pytest.mark.filterwarnings("ignore:EdDSA is deprecated:joserfc.errors.SecurityWarning"),
    pytest.mark.filterwarnings(
        'ignore:JWE algorithm "RSA1_5" is deprecated:joserfc.errors.SecurityWarning'
    ),
]


def _frozen_clock() -> float:
    return float(NOW)


def _uses_node(peer: Peer) -> list[pytest.MarkDecorator]:
    return [requires_node] if isinstance(peer, NodeJosePeer) else []


def _params(cases: Iterable[Case]) -> list[Any]:
    return [
        pytest.param(peer, case, id=f"{peer.name}-{case.id}", marks=_uses_node(peer))
        for peer in PEERS
        for case in cases
    ]


def _refusal_params() -> list[Any]:
    return [
        pytest.param(peer, refusal, id=f"{peer.name}-{refusal.case.id}", marks=_uses_node(peer))
        for peer in PEERS
        for refusal in REFUSALS
        if peer.name not in refusal.unminted_by
    ]


def _cbc_params(policies: list[tuple[Case, list[str] | None]]) -> list[Any]:
    return [
        pytest.param(
            peer, case, algs,
            id=f"{peer.name}-{case.id}-{'+'.join(algs or ['default'])}",
            marks=_uses_node(peer),
        )
        for peer in PEERS
        for case, algs in policies
    ]  # fmt: skip


PEER_PARAMS = [pytest.param(peer, id=peer.name, marks=_uses_node(peer)) for peer in PEERS]


def _ours(jwk: Jwk) -> Key:
    # Our keys name "dir" as their algorithm; the peers' dir keys name the enc.
    if jwk["kty"] == "oct" and jwk["alg"] in CONTENT_ALGS:
        jwk = {**jwk, "alg": "dir"}
    return Key.from_jwk(jwk)


def _theirs(jwk: Jwk, enc: str) -> Jwk:
    # panva/jose refuses a JWK whose alg is not the one it is used with, which
    # for a dir key is the content algorithm.
    return {**jwk, "alg": enc} if jwk["alg"] == "dir" else jwk


class PeerTokens:
    """One key per algorithm, and every peer case minted once per peer."""

    def __init__(self) -> None:
        self.keys: dict[str, Jwk] = {}
        for case in PEER_CASES:
            self._add_key(case.enc_key_name, case.alg, case.enc)
            if case.sign_alg is not None:
                self._add_key(case.sign_alg, case.sign_alg, case.enc)
        self._tokens: dict[str, dict[str, str]] = {}

    def _add_key(self, name: str, alg: str, enc: str) -> None:
        if name not in self.keys:
            self.keys[name] = make_jwk(alg, f"peer-{name}", enc=enc)

    def claims(self, minter: Peer, case: Case) -> Claims:
        # The jti names minter and case, so a token decoded in the wrong slot shows.
        return {**PEER_CLAIMS, "jti": f"{minter.name}/{case.id}"}

    def token(self, minter: Peer, case: Case) -> str:
        if minter.name not in self._tokens:
            cases = [case for case in PEER_CASES if _mintable(minter, case)]
            tokens = minter.mint([self._spec(minter, case) for case in cases])
            self._tokens[minter.name] = dict(zip((case.id for case in cases), tokens, strict=True))
        return self._tokens[minter.name][case.id]

    def decryption_key(self, case: Case) -> Key:
        return _ours(self.keys[case.enc_key_name])

    def verification_keys(self, *algs: str) -> list[Key]:
        return [_ours(public_jwk(self.keys[alg])) for alg in algs]

    def _spec(self, minter: Peer, case: Case) -> MintSpec:
        sign_jwk = self.keys[case.sign_alg] if case.sign_alg is not None else None
        return MintSpec(
            claims=self.claims(minter, case),
            enc_jwk=public_jwk(self.keys[case.enc_key_name]),
            alg=case.alg,
            enc=case.enc,
            sign_jwk=sign_jwk,
            sign_alg=case.sign_alg,
            zip=case.zip,
        )


def _mintable(minter: Peer, case: Case) -> bool:
    return all(
        minter.name not in refusal.unminted_by for refusal in REFUSALS if refusal.case == case
    )


@pytest.fixture(scope="module")
def peer_tokens() -> PeerTokens:
    return PeerTokens()


def _decoder(
    decryption: list[Key], verification: list[Key] | None = None, **options: Any
) -> TokenDecoder:
    return TokenDecoder(
        decryption_keys=KeyRing(decryption),
        verification_keys=None if verification is None else KeyRing(verification),
        issuer=ISSUER,
        audience=AUDIENCE,
        clock=_frozen_clock,
        **options,
    )


def _case_decoder(peer_tokens: PeerTokens, case: Case, **options: Any) -> TokenDecoder:
    """The narrowest decoder that accepts the case: its one key, its one signer."""
    if case.sign_alg is not None:
        verification = peer_tokens.verification_keys(case.sign_alg)
        return _decoder([peer_tokens.decryption_key(case)], verification, **options)
    # An unsigned RSA-OAEP token proves nothing about its minter: waived explicitly.
    allow_unsigned = case.alg in PUBLIC_KEY_MANAGEMENT
    return _decoder([peer_tokens.decryption_key(case)], allow_unsigned=allow_unsigned, **options)


def _widest_decoder(peer_tokens: PeerTokens) -> TokenDecoder:
    """Every key the default policy can use, unsigned tokens waived: only the
    algorithm or header can be what a refusal is about."""
    decryption = [peer_tokens.decryption_key(case) for case in ACCEPTED[:3]]
    verification = peer_tokens.verification_keys("ES256", "RS256")
    return _decoder(decryption, verification, allow_unsigned=True)


@pytest.mark.parametrize(("minter", "case"), _params(ACCEPTED))
def test_decoder_peer_token_accepted_same_claims(
    peer_tokens: PeerTokens, minter: Peer, case: Case
) -> None:
    token = peer_tokens.token(minter, case)

    claims = _case_decoder(peer_tokens, case).decode(token)

    assert claims.to_dict() == peer_tokens.claims(minter, case)


@pytest.mark.parametrize("minter", PEER_PARAMS)
def test_decoder_unsigned_rsa_oaep_peer_token_default_policy_signature_required(
    peer_tokens: PeerTokens, minter: Peer
) -> None:
    token = peer_tokens.token(minter, UNSIGNED_RSA_CASE)
    decoder = _decoder(
        [peer_tokens.decryption_key(UNSIGNED_RSA_CASE)], peer_tokens.verification_keys("ES256")
    )

    with pytest.raises(TokenError) as raised:
        decoder.decode(token)

    assert raised.value.code == "signature_required"


def test_decoder_rsa_oaep_key_without_verification_keys_raises_value_error(
    peer_tokens: PeerTokens,
) -> None:
    with pytest.raises(ValueError, match="allow_unsigned"):
        _decoder([peer_tokens.decryption_key(UNSIGNED_RSA_CASE)])


@pytest.mark.parametrize(("minter", "refusal"), _refusal_params())
def test_decoder_unsupported_peer_token_refused_with_code(
    peer_tokens: PeerTokens, minter: Peer, refusal: Refusal
) -> None:
    token = peer_tokens.token(minter, refusal.case)

    with pytest.raises(TokenError) as raised:
        _widest_decoder(peer_tokens).decode(token)

    assert raised.value.code == refusal.code


def _cbc_decoder(
    peer_tokens: PeerTokens, case: Case, content_algorithms: list[str] | None
) -> TokenDecoder:
    if content_algorithms is None:
        return _case_decoder(peer_tokens, case)
    return _case_decoder(peer_tokens, case, content_algorithms=content_algorithms)


@pytest.mark.parametrize(("minter", "case", "content_algorithms"), _cbc_params(CBC_OPTED_IN))
def test_decoder_cbc_peer_token_opted_in_accepted_same_claims(
    peer_tokens: PeerTokens, minter: Peer, case: Case, content_algorithms: list[str]
) -> None:
    token = peer_tokens.token(minter, case)

    claims = _cbc_decoder(peer_tokens, case, content_algorithms).decode(token)

    assert claims.to_dict() == peer_tokens.claims(minter, case)


@pytest.mark.parametrize(("minter", "case", "content_algorithms"), _cbc_params(CBC_NOT_OPTED_IN))
def test_decoder_cbc_peer_token_not_opted_in_refused_disallowed_algorithm(
    peer_tokens: PeerTokens, minter: Peer, case: Case, content_algorithms: list[str] | None
) -> None:
    token = peer_tokens.token(minter, case)
    decoder = _cbc_decoder(peer_tokens, case, content_algorithms)

    with pytest.raises(TokenError) as raised:
        decoder.decode(token)

    assert raised.value.code == "disallowed_algorithm"


class IssuedTokens:
    """Every issued case minted once by ``TokenIssuer``, opened once per peer."""

    def __init__(self) -> None:
        self._enc_keys: dict[str, Key] = {}
        self._sign_keys: dict[str, Key] = {}
        self.tokens = {case.id: self._issue(case) for case in ISSUED_CASES}
        self._opened: dict[str, dict[str, Claims | PeerError]] = {}

    def claims(self, case: Case) -> Claims:
        return {
            "iss": ISSUER,
            "aud": AUDIENCES,
            "iat": NOW,
            "nbf": NOW,
            "exp": NOW + LIFETIME,
            # An explicit jti overrides the random one, so all claims are known.
            "jti": f"jwe-middleware/{case.id}",
            **PERSONAL_CLAIMS,
        }

    def opened(self, opener: Peer, case: Case) -> Claims | PeerError:
        if opener.name not in self._opened:
            items = [self._open_spec(case) for case in ISSUED_CASES]
            results = opener.open_many(items)
            by_case = zip(ISSUED_CASES, results, strict=True)
            self._opened[opener.name] = {case.id: result for case, result in by_case}
        return self._opened[opener.name][case.id]

    def _issue(self, case: Case) -> str:
        issuer = TokenIssuer(
            encryption_key=self._enc_key(case),
            signing_key=self._sign_key(case),
            content_algorithm=case.enc,
            issuer=ISSUER,
            audience=AUDIENCES,
            lifetime=LIFETIME,
            clock=_frozen_clock,
        )
        return issuer.issue({"jti": f"jwe-middleware/{case.id}", **PERSONAL_CLAIMS})

    def _enc_key(self, case: Case) -> Key:
        name = case.enc_key_name
        if name not in self._enc_keys:
            self._enc_keys[name] = generate_key(case.alg, kid=f"ours-{name}")
        return self._enc_keys[name]

    def _sign_key(self, case: Case) -> Key | None:
        if case.sign_alg is None:
            return None
        if case.sign_alg not in self._sign_keys:
            self._sign_keys[case.sign_alg] = generate_key(
                case.sign_alg, kid=f"ours-{case.sign_alg}"
            )
        return self._sign_keys[case.sign_alg]

    def _open_spec(self, case: Case) -> OpenSpec:
        dec_jwk = _theirs(self._enc_key(case).private_jwk(), case.enc)
        sign_key = self._sign_key(case)
        verify_jwk = None if sign_key is None else sign_key.public_jwk()
        return OpenSpec(self.tokens[case.id], dec_jwk, verify_jwk)


@pytest.fixture(scope="module")
def issued_tokens() -> IssuedTokens:
    return IssuedTokens()


@pytest.mark.parametrize(("opener", "case"), _params(ISSUED_CASES))
def test_issuer_token_opened_by_peer_same_claims(
    issued_tokens: IssuedTokens, opener: Peer, case: Case
) -> None:
    opened = issued_tokens.opened(opener, case)

    assert opened == issued_tokens.claims(case)
