"""The event loop the service runs on.

uvloop (libuv) by default: every media packet of every call passes through the
loop, and its datagram and scheduling paths in C cost about a tenth less CPU per
call than asyncio's own (benchmarks/README.md, bench-media). `asyncio` is the
standard library's loop, for debugging or a platform uvloop does not support.
"""

from __future__ import annotations

import asyncio

import uvloop

EVENT_LOOPS = ("uvloop", "asyncio")


def new_event_loop(name: str) -> asyncio.AbstractEventLoop:
    if name == "uvloop":
        return uvloop.new_event_loop()
    if name == "asyncio":
        return asyncio.new_event_loop()
    raise ValueError(f"unknown event loop {name!r}; expected one of {EVENT_LOOPS}")
