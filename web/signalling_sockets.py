"""The open signalling WebSockets: one per participant, each living no longer
than the session that opened it.

A socket is authorised once, at the upgrade; a revoked or replaced invite, a
cancelled case, a logout or a disabled user must end it too, or a shut-out
session would keep signalling (and rejoining) the call. So each socket has a
watch that looks its session up now and then and closes it when it is gone.

A watch is told to stop, never cancelled: it may be inside a session lookup
(store/background.py says why that matters), and the server's shutdown waits
for every watch to end before the database goes.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from aiohttp import WSCloseCode, web

from web.auth.sessions import SessionStore

# How often an open signalling socket checks that its session still stands.
SESSION_RECHECK_SECONDS = 15.0

# (application id, side)
SocketKey = tuple[str, str]


@dataclass(eq=False)
class _Held:
    socket: web.WebSocketResponse
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    watch: asyncio.Task[None] | None = None


class SignallingSockets:
    """Each participant's one open socket, by (application, side): a newer one (a
    reload, another device) closes the one before, so nobody holds hundreds."""

    def __init__(self, sessions: SessionStore) -> None:
        self._sessions = sessions
        self._current: dict[SocketKey, web.WebSocketResponse] = {}
        self._held: dict[web.WebSocketResponse, _Held] = {}

    def __len__(self) -> int:
        return len(self._current)

    def watch(self, socket: web.WebSocketResponse, token: str | None) -> None:
        """Close `socket` once the session behind `token` has ended."""
        held = _Held(socket)
        held.watch = asyncio.create_task(self._close_when_session_ends(held, token))
        self._held[socket] = held
        held.watch.add_done_callback(lambda _: self._held.pop(socket, None))

    async def take_over(self, key: SocketKey, socket: web.WebSocketResponse) -> None:
        """`socket` is now the participant's; the one it replaces is closed."""
        older = self._current.get(key)
        self._current[key] = socket
        if older is not None and older is not socket and not older.closed:
            await older.close(code=WSCloseCode.POLICY_VIOLATION, message=b"replaced")

    async def release(self, key: SocketKey, socket: web.WebSocketResponse) -> None:
        """The socket's handler is finishing: forget it and end its watch."""
        if self._current.get(key) is socket:
            del self._current[key]
        held = self._held.get(socket)
        if held is not None and held.watch is not None:
            held.stop.set()
            # A handler cancelled here leaves the watch to `close` at shutdown.
            await asyncio.shield(held.watch)

    async def close(self) -> None:
        """At shutdown: every socket closes (going away) and every watch ends."""
        held = list(self._held.values())
        for each in held:
            each.stop.set()
        # Together: each close waits for its page's answer (up to aiohttp's timeout).
        await asyncio.gather(
            *(
                each.socket.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
                for each in held
                if not each.socket.closed
            ),
            return_exceptions=True,
        )
        await asyncio.gather(
            *(each.watch for each in held if each.watch is not None), return_exceptions=True
        )

    async def _close_when_session_ends(self, held: _Held, token: str | None) -> None:
        while not held.socket.closed:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SESSION_RECHECK_SECONDS):
                    await held.stop.wait()
            if held.stop.is_set():
                return
            if not token or await self._sessions.resolve(token) is None:
                await held.socket.close(code=WSCloseCode.POLICY_VIOLATION, message=b"session ended")
                return
