"""Where webhooks may be sent: public addresses on web ports, and the private
networks the operator names.

A subscriber's URL is a request the server makes on an admin's word. Left open it
reaches the cloud metadata service, a database on localhost or the bank's own
network (server-side request forgery), and the delivery log tells which ports
answered. So a URL naming a refused address or port is refused when subscribed,
and at delivery every address a name resolves to is checked again, so a name that
later points inside (DNS rebinding) is refused as well.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Below 1024 only the web's own ports: nothing else there speaks webhooks, and
# SSH, SMTP and the like are what a prober looks for.
WEB_PORTS = frozenset({80, 443})
LOCAL_NAMES = ("localhost", ".localhost", ".local", ".internal")


def parse_networks(text: str) -> tuple[Network, ...]:
    """A comma-separated list of addresses or CIDR networks (the allow-list setting)."""
    networks = []
    for item in (part.strip() for part in text.split(",")):
        if item:
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ValueError(f"not an address or network: {item!r}") from None
    return tuple(networks)


def _literal_address(host: str) -> Address | None:
    """The address a host names literally, including the legacy IPv4 forms that
    resolvers accept (0x7f000001, 2130706433, 127.1)."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


@dataclass(frozen=True, slots=True)
class Destinations:
    allowed: tuple[Network, ...] = ()

    def address_refused(self, address: Address) -> str | None:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in network for network in self.allowed):
            return None
        if not address.is_global or address.is_multicast:
            return f"{address} is not a public address"
        return None

    def url_refused(self, url: str) -> str | None:
        """Why webhooks may not go to `url` as written, or None."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
        if not host:
            return "the URL names no host"
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return "the URL's port is not a number"
        literal = _literal_address(host)
        if literal is not None:
            refused = self.address_refused(literal)
            if refused:
                return refused
        elif (host == LOCAL_NAMES[0] or host.endswith(LOCAL_NAMES[1:])) and not self.allowed:
            # With an allow-list, the addresses it resolves to are checked at delivery.
            return f"{host} is a local name"
        if port < 1024 and port not in WEB_PORTS:
            return f"port {port} is not a web port"
        return None


class GuardedResolver(AbstractResolver):
    """Resolves as the system does and keeps only the addresses webhooks may reach."""

    def __init__(self, destinations: Destinations) -> None:
        self._destinations = destinations
        self._resolver = ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._resolver.resolve(host, port, family)
        kept = [
            r
            for r in found
            if not self._destinations.address_refused(ipaddress.ip_address(r["host"]))
        ]
        if not kept:
            raise OSError(f"{host} resolves to no address webhooks may be sent to")
        return kept

    async def close(self) -> None:
        await self._resolver.close()
