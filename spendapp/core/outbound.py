"""Guard for URLs the server POSTs to on a user's behalf (budget webhooks).

A Finance user types the URL; the worker sends to it. Without a guard that is a way to reach
the machine's own services, the private network or a cloud metadata endpoint
(169.254.169.254). The rule: https only in production (DEBUG off); the host is resolved and
every address it resolves to must be public (not loopback, private, link-local, multicast,
unspecified or reserved). It runs when the form is saved (a clear error) and again right
before each send (DNS can change). Redirects are never followed, so a public host cannot
bounce the request inward. ``OUTBOUND_ALLOWED_NETWORKS`` lists networks an operator trusts
(an internal chat server), e.g. ``10.20.0.0/16``.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


class UnsafeURL(ValueError):
    """The URL may not be sent to; the message says why, without echoing secrets."""


def _allowed_networks():
    return [ipaddress.ip_network(n, strict=False) for n in settings.OUTBOUND_ALLOWED_NETWORKS]


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    internal = (
        address.is_loopback
        or address.is_private  # includes 169.254.0.0/16 metadata and fd00::/8
        or address.is_link_local
        or address.is_multicast
        or address.is_unspecified
        or address.is_reserved
    )
    return not internal


def _resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UnsafeURL(f"the host {host[:100]} does not resolve") from None
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


def check_url(url: str) -> None:
    """Raise `UnsafeURL` unless ``url`` may be POSTed to from this server."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeURL("not a valid URL") from None
    allowed_schemes = ("https", "http") if settings.DEBUG else ("https",)
    if parts.scheme not in allowed_schemes:
        raise UnsafeURL("must start with https://")
    if not parts.hostname:
        raise UnsafeURL("has no host")
    if parts.username or parts.password:
        raise UnsafeURL("must not contain a user name or password")
    trusted = _allowed_networks()
    for address in _resolve(parts.hostname, port):
        if any(address in network for network in trusted):
            continue
        if not _is_public(address):
            raise UnsafeURL(
                f"{parts.hostname[:100]} resolves to {address}, a loopback, private, "
                "link-local or otherwise internal address"
            )
