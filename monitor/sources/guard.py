"""Fetching a stranger's URL without being turned on the internal network (SSRF).

A feed URL comes from the configuration, but where it leads does not: its host name resolves to
whatever its DNS says, and its server may redirect anywhere. :class:`GuardedSession` (a
:class:`requests.Session`) refuses to connect to loopback, private, link-local (which holds the
cloud metadata address ``169.254.169.254``), shared, multicast, reserved and other non-public
addresses, checked twice:

- before each request and each redirect it follows, on every address the host name resolves to
  (``localhost``, ``2130706433``, ``[::1]``, ``10.0.0.5`` are all refused);
- on the address each new connection actually reaches, so a host whose DNS answers a public address
  for the check and a private one for the connection (DNS rebinding) is refused too.

A host named in ``allowed_hosts`` (the configuration's ``sources.allow_private_hosts``) is fetched
wherever it resolves: an intranet feed, or a test server on 127.0.0.1.

The address rules are the standard library's :mod:`ipaddress` (``is_global`` and friends); per-host
allowances are why this is not `requests-hardened`, whose filter allows loopback for all or none.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Iterable
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

#: Cloud metadata endpoints outside the link-local range (AWS IPv6, Alibaba).
METADATA = frozenset(ipaddress.ip_address(a) for a in ("fd00:ec2::254", "100.100.100.200"))


class RefusedAddress(Exception):
    """A URL whose host is, or resolves to, an address Earshot does not fetch from."""

    def __init__(self, url: str, host: str, reason: str):
        super().__init__(f"{host} {reason}")
        self.url, self.host, self.reason = url, host, reason


def why_refused(address: str) -> str | None:
    """Why ``address`` (an IP address) may not be fetched from, or None when it is a public address.

    >>> why_refused("127.0.0.1"), why_refused("169.254.169.254"), why_refused("::ffff:10.1.2.3")
    ('is a loopback address', 'is a link-local address (cloud metadata lives there)', 'is a private address')
    >>> why_refused("93.184.216.34") is None
    True
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone ("fe80::1%eth0") is not part of it
    except ValueError:
        return "is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if ip.is_loopback:
        return "is a loopback address"
    if ip.is_link_local:
        return "is a link-local address (cloud metadata lives there)"
    if ip in METADATA:
        return "is a cloud metadata address"
    if ip.is_unspecified:
        return "is the unspecified address"
    if ip.is_multicast:
        return "is a multicast address"
    if ip.is_private:
        return "is a private address"
    if not ip.is_global:
        return "is not a public address"
    return None


def check_url(url: str, allowed_hosts: Iterable[str] = ()) -> None:
    """Raise :class:`RefusedAddress` when ``url``'s host is, or resolves to, a refused address.

    A host that does not resolve passes: the request then fails with the DNS error, as it should.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host or host in allowed_hosts:
        return
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError):
        return
    for info in infos:
        reason = why_refused(info[4][0])
        if reason:
            shown = info[4][0]
            raise RefusedAddress(url, host, reason if shown == host else f"resolves to {shown}, which {reason}")


class _Guarded:
    """A urllib3 connection that checks the address it reached before it is used."""

    allowed_hosts: frozenset[str] = frozenset()

    def _new_conn(self):  # noqa: ANN202 - urllib3's signature
        sock = super()._new_conn()
        host = (self.host or "").lower().strip("[]")
        if host not in self.allowed_hosts:
            peer = sock.getpeername()[0]
            reason = why_refused(peer)
            if reason:
                sock.close()
                raise RefusedAddress("", host, f"connected to {peer}, which {reason}")  # the session names the URL
        return sock


class _GuardedAdapter(HTTPAdapter):
    def __init__(self, allowed_hosts: frozenset[str], **kw):
        self._allowed = allowed_hosts
        super().__init__(**kw)

    def init_poolmanager(self, *args, **kw) -> None:
        super().init_poolmanager(*args, **kw)
        pools = {}
        for scheme, pool_cls, conn_cls in (("http", HTTPConnectionPool, HTTPConnection),
                                           ("https", HTTPSConnectionPool, HTTPSConnection)):
            conn = type(f"Guarded{conn_cls.__name__}", (_Guarded, conn_cls), {"allowed_hosts": self._allowed})
            pools[scheme] = type(f"Guarded{pool_cls.__name__}", (pool_cls,), {"ConnectionCls": conn})
        self.poolmanager.pool_classes_by_scheme = pools


class GuardedSession(requests.Session):
    """A :class:`requests.Session` that refuses non-public addresses (see the module's docstring)
    unless the host is in ``allowed_hosts``; a refusal raises :class:`RefusedAddress`."""

    def __init__(self, allowed_hosts: Iterable[str] = ()):
        super().__init__()
        self.allowed_hosts = frozenset(h.strip().lower().strip("[]") for h in allowed_hosts if h and h.strip())
        adapter = _GuardedAdapter(self.allowed_hosts)
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def send(self, request, **kw):  # the first request and every redirect pass here
        check_url(request.url, self.allowed_hosts)
        try:
            return super().send(request, **kw)
        except RefusedAddress as exc:  # refused by the connection: say which URL it was for
            exc.url = exc.url or request.url
            raise
