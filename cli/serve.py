"""The web service: run it, and seed the demo bank. The only commands that load web/'s
app."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses

from aiohttp import web

from cli.common import with_engine
from config.event_loop import new_event_loop
from config.settings import Settings
from web.app import create_app
from web.demo import seed
from web.logs import AccessLogger


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser("serve", help="run the web service")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    sub.add_parser("demo-seed", help="create the demo bank's staff and one application")


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "demo-seed":
        return asyncio.run(with_engine(settings, lambda e: seed(e, settings)))
    # The node's own address (SIGNROOM_NODE_ADDRESS's default) is where it listens.
    settings = dataclasses.replace(
        settings, host=args.host or settings.host, port=args.port or settings.port
    )
    print(f"signroom serving on http://{settings.host}:{settings.port}", flush=True)
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        access_log_class=AccessLogger,
        print=None,
        loop=new_event_loop(settings.event_loop),
    )
    return 0
