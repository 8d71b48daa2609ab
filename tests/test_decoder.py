"""TokenDecoder: the accepted paths, the signing policy and the configuration."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from jose import jwe

from jwe_middleware import (
    DisallowedAlgorithm,
    Key,
    KeyRing,
    SignatureRequired,
    TokenDecoder,
    TokenIssuer,
    TypeMismatch,
    UnknownKey,
    UnsupportedHeader,
    generate_key,
)
from tests._helpers import NOW, decoder, frozen_clock, keys, token

CLAIMS = {"sub": "alice", "exp": NOW + 60}


def jose_token(key: Any, alg: str, enc: str = "A256GCM", **header: Any) -> str:
    """A token minted by python-jose itself, with optional extra header members."""
    plaintext = json.dumps(CLAIMS).encode()
    minted = jwe.encrypt(plaintext, key, encryption=enc, algorithm=alg, **header)
    return minted.decode() if isinstance(minted, bytes) else str(minted)


def encrypt_dir(header: dict[str, Any], plaintext: bytes, cek: bytes) -> str:
    """A dir + A256GCM token with any protected header, built from primitives."""
    encoded = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=")
    iv = os.urandom(12)
    sealed = AESGCM(cek).encrypt(iv, plaintext, encoded)
    parts = [b"", iv, sealed[:-16], sealed[-16:]]
    rest = [base64.urlsafe_b64encode(part).rstrip(b"=") for part in parts]
    return b".".join([encoded, *rest]).decode()


def test_decoder_nested_token_returns_claims_and_kids() -> None:
    decoded = decoder().decode_token(token())
    assert decoded.claims["sub"] == "alice"
    assert (decoded.decryption_kid, decoded.signing_kid) == ("enc-1", "sig-1")


def test_decoder_accepts_bytes_and_str() -> None:
    value = token()
    assert decoder().decode(value.encode()) == decoder().decode(value)


@pytest.mark.parametrize("alg", ["dir", "A256KW"])
def test_decoder_unsigned_symmetric_token_accepted(alg: str) -> None:
    key = generate_key(alg, kid=f"{alg}-k")
    minted = jose_token(key.material, alg, kid=key.kid)
    claims = TokenDecoder(decryption_keys=KeyRing([key]), clock=frozen_clock).decode(minted)
    assert claims["sub"] == "alice"


def test_decoder_token_without_kid_tries_keys_of_its_alg() -> None:
    first, second = generate_key("A256KW", kid="a"), generate_key("A256KW", kid="b")
    minted = jose_token(second.material, "A256KW")
    ring = KeyRing([first, second, generate_key("dir", kid="c")])
    decoded = TokenDecoder(decryption_keys=ring, clock=frozen_clock).decode_token(minted)
    assert decoded.decryption_kid == "b"


def test_decoder_kid_naming_key_of_other_alg_is_unknown_key() -> None:
    wrap = generate_key("A256KW", kid="w")
    minted = jose_token(wrap.material, "A256KW", kid="d")
    ring = KeyRing([wrap, generate_key("dir", kid="d")])
    with pytest.raises(UnknownKey):
        TokenDecoder(decryption_keys=ring, clock=frozen_clock).decode(minted)


def test_decoder_unsigned_token_refused_when_verification_keys_configured() -> None:
    key = keys()["dir"]
    minted = jose_token(key.material, "dir", kid=key.kid)
    strict = TokenDecoder(
        decryption_keys=KeyRing([key]),
        verification_keys=KeyRing([keys()["sig"]]),
        clock=frozen_clock,
    )
    with pytest.raises(SignatureRequired):
        strict.decode(minted)
    relaxed = TokenDecoder(
        decryption_keys=KeyRing([key]),
        verification_keys=KeyRing([keys()["sig"]]),
        allow_unsigned=True,
        clock=frozen_clock,
    )
    assert relaxed.decode(minted)["sub"] == "alice"


def test_decoder_unsigned_rsa_oaep_token_refused_even_if_only_enc_keys() -> None:
    with pytest.raises(SignatureRequired):
        decoder().decode(token(signing_key=None))


def test_decoder_unsigned_rsa_oaep_accepted_only_when_waived() -> None:
    waived = decoder(verification_keys=None, allow_unsigned=True)
    assert waived.decode(token(signing_key=None))["sub"] == "alice"


def test_decoder_nested_token_without_verification_keys_refused() -> None:
    key = keys()["dir"]
    minted = TokenIssuer(
        encryption_key=key, signing_key=keys()["sig"], clock=frozen_clock
    ).issue({"sub": "x"})
    with pytest.raises(SignatureRequired):
        TokenDecoder(decryption_keys=KeyRing([key]), clock=frozen_clock).decode(minted)


def test_decoder_cbc_opt_in_decrypts_python_jose_cbc_token() -> None:
    key = generate_key("A256KW", kid="cbc")
    minted = jose_token(key.material, "A256KW", enc="A128CBC-HS256", kid="cbc")
    default = TokenDecoder(decryption_keys=KeyRing([key]), clock=frozen_clock)
    with pytest.raises(DisallowedAlgorithm):
        default.decode(minted)
    opted = TokenDecoder(
        decryption_keys=KeyRing([key]),
        content_algorithms=["A256GCM", "A128CBC-HS256"],
        clock=frozen_clock,
    )
    assert opted.decode(minted)["sub"] == "alice"


def test_decoder_understood_crit_extension_accepted() -> None:
    key = keys()["dir"]
    header = {"alg": "dir", "enc": "A256GCM", "kid": key.kid, "crit": ["exp-hint"],
              "exp-hint": 1}
    minted = encrypt_dir(header, json.dumps(CLAIMS).encode(), key.material)
    plain = TokenDecoder(decryption_keys=KeyRing([key]), clock=frozen_clock)
    with pytest.raises(UnsupportedHeader):
        plain.decode(minted)
    aware = TokenDecoder(
        decryption_keys=KeyRing([key]), critical_headers=["exp-hint"], clock=frozen_clock
    )
    assert aware.decode(minted)["sub"] == "alice"


@pytest.mark.parametrize(("typ", "accepted"), [("JWT", True), ("application/jwt", True),
                                                ("at+jwt", False), (None, False)])
def test_decoder_typ_check(typ: str | None, accepted: bool) -> None:
    key = keys()["dir"]
    extra = {} if typ is None else {"typ": typ}
    minted = encrypt_dir(
        {"alg": "dir", "enc": "A256GCM", "kid": key.kid, **extra},
        json.dumps(CLAIMS).encode(),
        key.material,
    )
    checking = TokenDecoder(decryption_keys=KeyRing([key]), token_type="jwt", clock=frozen_clock)
    if accepted:
        assert checking.decode(minted)["sub"] == "alice"
    else:
        with pytest.raises(TypeMismatch):
            checking.decode(minted)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"key_algorithms": ["RSA1_5"]}, ValueError),
        ({"key_algorithms": ["ECDH-ES"]}, ValueError),
        ({"key_algorithms": "dir"}, TypeError),
        ({"content_algorithms": []}, ValueError),
        ({"signature_algorithms": ["none"]}, ValueError),
        ({"signature_algorithms": ["HS256"]}, ValueError),
        ({"signature_algorithms": ["PS256"]}, ValueError),
        ({"max_token_bytes": 10}, ValueError),
        ({"decryption_keys": "keys.json"}, TypeError),
        ({"decryption_keys": KeyRing([])}, ValueError),
    ],
)
def test_decoder_bad_configuration_refused_at_construction(
    options: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        decoder(**options)


def test_decoder_public_key_in_decryption_ring_refused() -> None:
    with pytest.raises(ValueError, match="cannot decrypt"):
        decoder(decryption_keys=KeyRing([keys()["enc"].public()]))


def test_decoder_key_outside_allowlist_refused() -> None:
    with pytest.raises(ValueError, match="key_algorithms"):
        decoder(decryption_keys=KeyRing([generate_key("A128KW", kid="small")]))


def test_decoder_signature_key_in_decryption_ring_refused() -> None:
    with pytest.raises(ValueError):
        decoder(decryption_keys=KeyRing([keys()["sig"]]))


def _dir_key(size: int) -> Key:
    secret = base64.urlsafe_b64encode(os.urandom(size)).rstrip(b"=").decode()
    return Key.from_jwk({"kty": "oct", "alg": "dir", "kid": f"dir-{size}", "k": secret})


def test_decoder_dir_key_fitting_no_content_algorithm_refused_at_construction() -> None:
    # 16 bytes is an A128GCM key; the default content allowlist is A256GCM only.
    with pytest.raises(ValueError, match="content_algorithms"):
        TokenDecoder(decryption_keys=KeyRing([_dir_key(16)]))


def test_decoder_dir_key_fitting_an_allowed_content_algorithm_accepted() -> None:
    TokenDecoder(decryption_keys=KeyRing([_dir_key(16)]), content_algorithms=["A128GCM"])
    TokenDecoder(decryption_keys=KeyRing([_dir_key(32)]))


def test_decoder_repr_names_kids_only() -> None:
    secret_ring = KeyRing([keys()["enc"], keys()["dir"]])
    text = repr(decoder(decryption_keys=secret_ring))
    assert "enc-1" in text and "dir-1" in text and "sig-1" in text
    assert keys()["dir"].private_jwk()["k"] not in text
    for member in ("d", "p", "q", "dp", "dq", "qi"):
        assert keys()["enc"].private_jwk()[member] not in text


class _SwappableSource:
    """A key source whose snapshot the test replaces (a unit-level fake)."""

    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring

    def current(self) -> KeyRing:
        return self.ring

    async def refresh(self) -> bool:
        return False


def test_decoder_bad_new_key_set_ignored_and_last_good_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    key = keys()["dir"]
    source = _SwappableSource(KeyRing([key]))
    checking = TokenDecoder(decryption_keys=source, clock=frozen_clock)
    minted = jose_token(key.material, "dir", kid=key.kid)
    source.ring = KeyRing([key, keys()["sig"]])
    with caplog.at_level("WARNING", logger="jwe_middleware"):
        assert checking.decode(minted)["sub"] == "alice"
        assert checking.decode(minted)["sub"] == "alice"
    assert caplog.text.count("new key set ignored") == 1
    fixed = KeyRing([key, generate_key("dir", kid="next")])
    source.ring = fixed
    assert checking.decryption_keys is fixed


def test_decoder_bad_first_key_set_fails_at_construction() -> None:
    with pytest.raises(ValueError):
        TokenDecoder(decryption_keys=_SwappableSource(KeyRing([keys()["sig"]])))


def test_decoder_accepted_until_is_exp_plus_leeway() -> None:
    lenient = TokenDecoder(decryption_keys=KeyRing([keys()["dir"]]), leeway=45)
    assert lenient.accepted_until({"exp": 1000}) == 1045
    assert lenient.accepted_until({"sub": "no exp"}) is None
    assert lenient.accepted_until({"exp": "1000"}) is None
