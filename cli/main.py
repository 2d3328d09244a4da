"""The `signroom` command line. Every command honours SIGNROOM_DATABASE_URL."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Protocol, cast

from config.errors import ConfigError
from config.logs import configure_logging
from config.settings import Settings
from store.errors import StoreError

# Each command's group (a module of cli/), in the order `signroom --help` lists them.
COMMANDS = {
    "migrate": "ops",
    "retention": "ops",
    "serve": "serve",
    "demo-seed": "serve",
    "user": "users",
    "api-key": "users",
    "audit": "audit",
    "kyc": "kyc",
    "verify-pdf": "signing",
    "signing": "signing",
    "pki": "signing",
    "verify-evidence": "evidence",
    "worker": "nodes",
    "node": "nodes",
}


class CommandGroup(Protocol):
    def add_parsers(self, sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None: ...

    def run(self, args: argparse.Namespace, settings: Settings) -> int: ...


def _groups(argv: Sequence[str]) -> dict[str, CommandGroup]:
    """The groups to load: the named command's only (a verification on a machine with
    nothing else loads no web code), or every group for help and unknown commands."""
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    wanted = [COMMANDS[command]] if command in COMMANDS else list(dict.fromkeys(COMMANDS.values()))
    return {name: cast(CommandGroup, importlib.import_module(f"cli.{name}")) for name in wanted}


def _parser(groups: dict[str, CommandGroup]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="signroom", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for group in groups.values():
        group.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    groups = _groups(argv)
    args = _parser(groups).parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    try:
        return groups[COMMANDS[args.command]].run(args, settings)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
