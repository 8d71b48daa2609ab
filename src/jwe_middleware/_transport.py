"""The HTTPS decision: is this connection private enough to carry a bearer token?

Plain HTTP is refused, not redirected. By the time a redirect could be sent, the
request (and the ``Authorization`` header or cookie in it) has already crossed
the network in clear; redirecting would teach the client that the mistake is
harmless while the token stays exposed (RFC 6750 section 5.3: bearer tokens
must only travel over TLS). The middleware answers 403 and the token should be
treated as leaked.

Behind a TLS-terminating proxy the application sees ``http``, and only the
proxy can say what the client used. Anyone can send ``X-Forwarded-Proto`` or
``Forwarded``, so these headers are believed only when the immediate peer is
inside a network the operator listed as a proxy, and only the value that peer
appended (the last one). With no proxies configured, the headers are ignored.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import TypeAlias

from starlette.types import Scope

__all__ = ["TransportPolicy"]

_Address: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
_Network: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network
_Headers: TypeAlias = Iterable[tuple[bytes, bytes]]

_SECURE_SCHEMES = frozenset({"https", "wss"})
_SECURE_PROTOCOLS = frozenset({b"https", b"wss"})

# One piece of a Forwarded field (RFC 7239 section 4): a separator, or a
# forwarded-pair ``token "=" ( token / quoted-string )`` that must be followed
# by a separator or the end. Each alternative starts with a distinct character,
# so matching stays linear even on hostile input.
_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED = rb'"(?:[\t !#-\[\]-~]|\\[\t -~])*"'
_FORWARDED_PIECE = re.compile(
    rb"[ \t]*(?:(?P<separator>[,;])|(?P<name>"
    + _TOKEN
    + rb")=(?P<value>"
    + _TOKEN
    + rb"|"
    + _QUOTED
    + rb")[ \t]*(?=[,;]|\Z))[ \t]*"
)
_QUOTED_PAIR = re.compile(rb"\\(.)", re.DOTALL)


class TransportPolicy:
    """Decide whether a request arrived over TLS, and who sent it, for logs.

    ``trusted_proxies`` lists the addresses or networks of the proxies whose
    forwarded headers are believed. ``hsts`` is the ``Strict-Transport-Security``
    value to send on responses, or ``None`` to send none.
    """

    def __init__(
        self,
        *,
        trusted_proxies: Iterable[str] = (),
        hsts: str | None = "max-age=63072000; includeSubDomains",
    ) -> None:
        self._trusted_networks = _parse_networks(trusted_proxies)
        self._hsts_header = _build_hsts_header(hsts)

    @property
    def hsts_header(self) -> tuple[bytes, bytes] | None:
        """The precomputed HSTS header, or ``None`` when disabled."""
        return self._hsts_header

    def is_secure(self, scope: Scope) -> bool:
        """True when the client's own connection used TLS."""
        if scope.get("scheme") in _SECURE_SCHEMES:
            return True
        if not self._peer_is_trusted(scope):
            return False

        claims = _claimed_protocols(scope.get("headers", ()))
        # Fail closed: every forwarding header present must agree on TLS, so a
        # header the proxy passed through untouched cannot outvote it.
        return bool(claims) and all(claim in _SECURE_PROTOCOLS for claim in claims)

    def client_address(self, scope: Scope) -> str:
        """The client's IP address for logs; ``"-"`` when unknown."""
        peer = _peer_address(scope)
        if peer is None:
            return "-"
        if not self._is_trusted(peer):
            return str(peer)

        forwarded = self._forwarded_client(scope.get("headers", ()))
        return str(forwarded or peer)

    def _peer_is_trusted(self, scope: Scope) -> bool:
        peer = _peer_address(scope)
        return peer is not None and self._is_trusted(peer)

    def _is_trusted(self, address: _Address) -> bool:
        return any(address in network for network in self._trusted_networks)

    def _forwarded_client(self, headers: _Headers) -> _Address | None:
        # Walk from the right: each trusted proxy appended the address it saw,
        # and the first entry not written by one of ours is the best we know.
        # Anything to its left was written by the client and proves nothing.
        for entry in reversed(_joined_values(headers, b"x-forwarded-for").split(b",")):
            address = _parse_address(entry.strip(b" \t"))
            if address is None or not self._is_trusted(address):
                return address
        return None


def _parse_networks(entries: Iterable[str]) -> tuple[_Network, ...]:
    if isinstance(entries, (str, bytes)):
        raise TypeError("trusted_proxies must be an iterable of addresses, not a string")
    return tuple(_parse_network(entry) for entry in entries)


def _parse_network(entry: str) -> _Network:
    # ip_network would also take integers and packed bytes; configuration is
    # text, and anything else is more likely a mistake than an address.
    if not isinstance(entry, str):
        raise TypeError(f"trusted_proxies entry {entry!r} is not a string")
    try:
        return ipaddress.ip_network(entry.strip(), strict=False)
    except ValueError as error:
        raise ValueError(
            f"trusted_proxies entry {entry!r} is not an IP address or network"
        ) from error


def _build_hsts_header(value: str | None) -> tuple[bytes, bytes] | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError("hsts must be a string or None")
    # A field value is visible ASCII, spaces and tabs (RFC 9110 section 5.5);
    # CR or LF would let configuration split the response (header injection).
    if not value.strip() or not re.fullmatch(r"[\t\x20-\x7e]+", value):
        raise ValueError("hsts must be non-empty printable ASCII without CR or LF")
    return (b"strict-transport-security", value.encode("ascii"))


def _peer_address(scope: Scope) -> _Address | None:
    # A unix-socket peer has no address (client is None): its proxy, if any,
    # cannot be matched against the configured networks, so it is not trusted.
    client = scope.get("client")
    if not client:
        return None
    return _parse_address(client[0])


def _parse_address(text: object) -> _Address | None:
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    if not isinstance(text, str):
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    return _canonical(address)


def _canonical(address: _Address) -> _Address:
    if isinstance(address, ipaddress.IPv4Address):
        return address
    # A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; they must match
    # IPv4 proxy networks. The zone id ("%eth0") is dropped: it means nothing
    # past the host and may hold any text, which has no place in a log line.
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return ipaddress.IPv6Address(int(address))


def _claimed_protocols(headers: _Headers) -> list[bytes]:
    lines = list(headers)
    claims: list[bytes] = []
    x_forwarded_proto = _last_line(lines, b"x-forwarded-proto")
    if x_forwarded_proto is not None:
        claims.append(x_forwarded_proto.rsplit(b",", 1)[-1].strip(b" \t").lower())
    forwarded = _last_line(lines, b"forwarded")
    if forwarded is not None:
        claims.append(_forwarded_proto(forwarded).lower())
    return claims


def _last_line(headers: _Headers, name: bytes) -> bytes | None:
    # The nearest proxy either appends its own line or appends to the last
    # one, so the last line holds its value (RFC 9110 section 5.3).
    found = None
    for key, value in headers:
        if key.lower() == name:
            found = value
    return found


def _joined_values(headers: _Headers, name: bytes) -> bytes:
    # Several lines of a list header mean the same as one line joined with
    # commas, in order (RFC 9110 section 5.3).
    return b",".join(value for key, value in headers if key.lower() == name)


def _forwarded_proto(line: bytes) -> bytes:
    """The ``proto`` of the last element of a Forwarded line; b"" if unusable."""
    element = _last_forwarded_element(line)
    if element is None:
        return b""
    names = [name for name, _ in element]
    # RFC 7239 section 4: a parameter must not occur twice in one element;
    # a repeated one is ambiguous, so the element is not believed at all.
    if len(set(names)) != len(names):
        return b""
    protos = [value for name, value in element if name == b"proto"]
    return _unquote(protos[0]) if protos else b""


def _last_forwarded_element(line: bytes) -> list[tuple[bytes, bytes]] | None:
    # Parsed from the left because a quoted-string may hold commas; only the
    # last element (the one our proxy appended) is kept.
    element: list[tuple[bytes, bytes]] = []
    position = 0
    while position < len(line):
        piece = _FORWARDED_PIECE.match(line, position)
        if piece is None:
            return None
        if piece["separator"] == b",":
            element = []
        elif piece["name"] is not None:
            element.append((piece["name"].lower(), piece["value"]))
        position = piece.end()
    return element


def _unquote(value: bytes) -> bytes:
    if not value.startswith(b'"'):
        return value
    return _QUOTED_PAIR.sub(rb"\1", value[1:-1])
