"""Three independent JOSE implementations behind one API, for interoperability tests.

    from tests.interop.peers import PEERS, MintSpec, make_jwk, public_jwk

    enc_key = make_jwk("RSA-OAEP-256", "enc-1")
    spec = MintSpec({"sub": "alice"}, public_jwk(enc_key), "RSA-OAEP-256", "A256GCM")
    for peer in PEERS:
        (token,) = peer.mint([spec])
        assert peer.open(token, enc_key) == {"sub": "alice"}

Every peer mints a batch at once; ``open_many`` opens a batch, which matters for
the node peer, whose every call starts a process. Tests that use the node peer
carry :data:`requires_node`: skipped without node or ``npm ci``, failed in CI.
"""

from __future__ import annotations

import os

import pytest

from ._base import (
    CONTENT_ENCRYPTION_ALGS,
    KEY_MANAGEMENT_ALGS,
    SIGNATURE_ALGS,
    MintSpec,
    OpenSpec,
    Peer,
    PeerError,
    protected_header,
)
from ._keys import make_jwk, public_jwk
from ._node import MISSING_REASON, NodeJosePeer, node_available
from ._python import JoserfcPeer, JwcryptoPeer

__all__ = [
    "CONTENT_ENCRYPTION_ALGS",
    "KEY_MANAGEMENT_ALGS",
    "PEERS",
    "SIGNATURE_ALGS",
    "JoserfcPeer",
    "JwcryptoPeer",
    "MintSpec",
    "NodeJosePeer",
    "OpenSpec",
    "Peer",
    "PeerError",
    "make_jwk",
    "node_available",
    "protected_header",
    "public_jwk",
    "requires_node",
]

PEERS: list[Peer] = [JwcryptoPeer(), JoserfcPeer(), NodeJosePeer()]

# CI installs node and runs `npm ci`, so there a missing peer is a failure, not a skip.
requires_node = pytest.mark.skipif(
    not node_available() and os.environ.get("CI") != "true",
    reason=MISSING_REASON,
)
