"""ICE servers for every peer connection, from configuration only.

aiortc falls back to a public STUN server when a configuration lists none; the
bank's server must never contact a third party, so the configuration built here
is always explicit (an empty list means host candidates only, which is what a
loopback test or a server with a public address needs).

TURN credentials follow the TURN REST API that coturn implements with
`use-auth-secret`: the username is `<expiry unix time>:<user id>` and the password
is base64(HMAC-SHA1(shared secret, username)). coturn recomputes it, so nothing is
stored, and a credential stops working at its expiry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiortc import RTCConfiguration, RTCIceServer, RTCIceTransportPolicy


@dataclass(frozen=True, slots=True)
class TurnCredential:
    username: str
    password: str
    expires_at: datetime


def turn_credential(secret: str, user: str, *, now: datetime, ttl: timedelta) -> TurnCredential:
    """A time-limited TURN credential for `user` (no colon: it separates the expiry)."""
    if ":" in user:
        raise ValueError("a TURN user id may not contain ':'")
    expires_at = now + ttl
    username = f"{int(expires_at.timestamp())}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return TurnCredential(username, base64.b64encode(digest).decode(), expires_at)


@dataclass(frozen=True, slots=True)
class IceSettings:
    stun_urls: tuple[str, ...] = ()
    turn_urls: tuple[str, ...] = ()
    turn_secret: str = ""
    turn_ttl: timedelta = timedelta(hours=1)
    # Only relay candidates: hides the participants' addresses from each other and
    # proves in tests that the TURN path works on its own.
    relay_only: bool = False

    def servers(self, user: str, *, now: datetime) -> list[dict[str, object]]:
        """The browser's RTCPeerConnection `iceServers`, with a fresh credential."""
        servers: list[dict[str, object]] = []
        if self.stun_urls:
            servers.append({"urls": list(self.stun_urls)})
        if self.turn_urls and self.turn_secret:
            credential = turn_credential(self.turn_secret, user, now=now, ttl=self.turn_ttl)
            servers.append(
                {
                    "urls": list(self.turn_urls),
                    "username": credential.username,
                    "credential": credential.password,
                }
            )
        return servers

    def rtc_configuration(self, user: str, *, now: datetime) -> RTCConfiguration:
        """The server side's configuration: never aiortc's default STUN server."""
        return RTCConfiguration(
            iceServers=[
                RTCIceServer(
                    urls=server["urls"],  # type: ignore[arg-type]
                    username=server.get("username"),  # type: ignore[arg-type]
                    credential=server.get("credential"),  # type: ignore[arg-type]
                )
                for server in self.servers(user, now=now)
            ],
            iceTransportPolicy=(
                RTCIceTransportPolicy.RELAY if self.relay_only else RTCIceTransportPolicy.ALL
            ),
        )
