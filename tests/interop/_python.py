"""The two in-process peers: jwcrypto (Latchset) and joserfc (Authlib)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import cast

from joserfc import jwe as rfc_jwe
from joserfc import jwk as rfc_jwk
from joserfc import jws as rfc_jws
from joserfc.errors import JoseError
from jwcrypto import jwk, jwt
from jwcrypto.common import JWException

from ._base import (
    CONTENT_ENCRYPTION_ALGS,
    KEY_MANAGEMENT_ALGS,
    SIGNATURE_ALGS,
    Claims,
    Jwk,
    MintSpec,
    OpenSpec,
    PeerError,
    claims_from,
    inner_header,
    is_nested,
    open_each,
    outer_header,
)

__all__ = ["JoserfcPeer", "JwcryptoPeer"]

_JWE_ALGS = [*KEY_MANAGEMENT_ALGS, *CONTENT_ENCRYPTION_ALGS]
_JWS_ALGS = list(SIGNATURE_ALGS)

# jwcrypto reports bad input as ValueError or TypeError besides its own base.
_JWCRYPTO_ERRORS = (JWException, ValueError, TypeError)
# joserfc keeps some algorithms off its "recommended" list (RSA-OAEP-256 among
# them); an explicit registry is how a caller opts in. "DEF" is RFC 7516 "zip".
_JOSERFC_JWE = rfc_jwe.JWERegistry(algorithms=[*_JWE_ALGS, "DEF"])
_JOSERFC_JWS = rfc_jws.JWSRegistry(algorithms=_JWS_ALGS)
_JOSERFC_ERRORS = (JoseError, ValueError)


class JwcryptoPeer:
    """jwcrypto, through its ``jwt.JWT`` front end with claim checks turned off."""

    name = "jwcrypto"

    def mint(self, specs: Sequence[MintSpec]) -> list[str]:
        try:
            return [self._mint_one(spec) for spec in specs]
        except _JWCRYPTO_ERRORS as error:
            raise PeerError(self.name, repr(error)) from error

    def open(self, token: str, dec_jwk: Jwk, verify_jwk: Jwk | None = None) -> Claims:
        try:
            return self._open(token, dec_jwk, verify_jwk)
        except _JWCRYPTO_ERRORS as error:
            raise PeerError(self.name, repr(error)) from error

    def open_many(self, items: Sequence[OpenSpec]) -> list[Claims | PeerError]:
        return open_each(self, items)

    def _mint_one(self, spec: MintSpec) -> str:
        payload: Claims | str = spec.claims
        if spec.sign_jwk is not None:
            signed = jwt.JWT(header=inner_header(spec), claims=spec.claims, algs=_JWS_ALGS)
            signed.make_signed_token(jwk.JWK(**spec.sign_jwk))
            payload = signed.serialize()

        encrypted = jwt.JWT(header=outer_header(spec), claims=payload, algs=_JWE_ALGS)
        encrypted.make_encrypted_token(jwk.JWK(**spec.enc_jwk))
        return str(encrypted.serialize())

    def _open(self, token: str, dec_jwk: Jwk, verify_jwk: Jwk | None) -> Claims:
        outer = _jwcrypto_read(token, dec_jwk, _JWE_ALGS, "JWE")
        if not is_nested(outer.token.jose_header):
            return claims_from(self.name, outer.claims)

        if verify_jwk is None:
            raise PeerError(self.name, "nested token and no verify_jwk")
        inner = _jwcrypto_read(outer.claims, verify_jwk, _JWS_ALGS, "JWS")
        return claims_from(self.name, inner.claims)


class JoserfcPeer:
    """joserfc, through its JWE and JWS compact functions and explicit registries."""

    name = "joserfc"

    def mint(self, specs: Sequence[MintSpec]) -> list[str]:
        try:
            return [self._mint_one(spec) for spec in specs]
        except _JOSERFC_ERRORS as error:
            raise PeerError(self.name, repr(error)) from error

    def open(self, token: str, dec_jwk: Jwk, verify_jwk: Jwk | None = None) -> Claims:
        try:
            return self._open(token, dec_jwk, verify_jwk)
        except _JOSERFC_ERRORS as error:
            raise PeerError(self.name, repr(error)) from error

    def open_many(self, items: Sequence[OpenSpec]) -> list[Claims | PeerError]:
        return open_each(self, items)

    def _mint_one(self, spec: MintSpec) -> str:
        payload = _to_json(spec.claims)
        if spec.sign_jwk is not None:
            sign_key = _joserfc_key(spec.sign_jwk)
            payload = rfc_jws.serialize_compact(
                inner_header(spec), payload, sign_key, registry=_JOSERFC_JWS
            )

        enc_key = _joserfc_key(spec.enc_jwk)
        return rfc_jwe.encrypt_compact(outer_header(spec), payload, enc_key, registry=_JOSERFC_JWE)

    def _open(self, token: str, dec_jwk: Jwk, verify_jwk: Jwk | None) -> Claims:
        dec_key = _joserfc_key(dec_jwk)
        outer = rfc_jwe.decrypt_compact(token, dec_key, registry=_JOSERFC_JWE)
        plaintext = outer.plaintext or b""
        if not is_nested(outer.protected):
            return claims_from(self.name, plaintext)

        if verify_jwk is None:
            raise PeerError(self.name, "nested token and no verify_jwk")
        verify_key = _joserfc_key(verify_jwk)
        inner = rfc_jws.deserialize_compact(plaintext, verify_key, registry=_JOSERFC_JWS)
        return claims_from(self.name, inner.payload)


def _jwcrypto_read(token: str, key: Jwk, algs: list[str], expected_type: str) -> jwt.JWT:
    # Claims are judged by the code under test, never by the peer.
    return jwt.JWT(
        jwt=token,
        key=jwk.JWK(**key),
        algs=algs,
        check_claims=False,
        expected_type=expected_type,
    )


def _joserfc_key(key: Jwk) -> rfc_jwk.Key:
    # joserfc types a JWK as dict[str, str | list[str]], narrower than JSON.
    return rfc_jwk.import_key(cast("dict[str, str | list[str]]", key))


def _to_json(claims: Claims) -> str:
    return json.dumps(claims, separators=(",", ":"))
