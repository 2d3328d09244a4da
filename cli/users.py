"""Staff accounts and API keys (both kept by web/auth)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from sqlalchemy.ext.asyncio import AsyncEngine

from cli.common import CLI_ACTOR, with_engine
from config.settings import Settings
from loans.roles import STAFF_ROLES
from web.auth import api_keys, users
from web.auth.errors import UserError
from web.auth.passwords import generate_password


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    user = sub.add_parser("user", help="manage staff accounts").add_subparsers(
        dest="user_command", required=True
    )
    add = user.add_parser("add", help="create a staff account")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=sorted(r.value for r in STAFF_ROLES))
    add.add_argument("--display-name")
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input instead of generating one",
    )
    passwd = user.add_parser("passwd", help="set a new password")
    passwd.add_argument("username")
    passwd.add_argument("--password-stdin", action="store_true")
    disable = user.add_parser("disable", help="disable an account and end its sessions")
    disable.add_argument("username")
    enable = user.add_parser("enable", help="enable a disabled account")
    enable.add_argument("username")

    api_key = sub.add_parser("api-key", help="API keys for /api/v1").add_subparsers(
        dest="api_key_command", required=True
    )
    create = api_key.add_parser("create", help="create a key (printed once)")
    create.add_argument("name")
    create.add_argument("--user", required=True, help="the manager account the key acts for")
    create.add_argument(
        "--scope",
        action="append",
        required=True,
        choices=sorted(s.value for s in api_keys.Scope),
    )


def _read_password(from_stdin: bool) -> tuple[str, bool]:
    """The password to set and whether it was generated (and must be shown)."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\n"), False
    if sys.stdin.isatty():
        first = getpass.getpass("new password (empty to generate one): ")
        if first:
            if getpass.getpass("repeat: ") != first:
                raise SystemExit("passwords differ")
            return first, False
    return generate_password(), True


async def _user(e: AsyncEngine, args: argparse.Namespace) -> int:
    if args.user_command == "add":
        password, generated = _read_password(args.password_stdin)
        user = await users.create_user(
            e,
            CLI_ACTOR,
            username=args.username,
            display_name=args.display_name or args.username,
            role=args.role,
            password=password,
        )
        print(f"created {user.role.value} {user.username}")
        if generated:
            print(f"password: {password}")
        return 0
    if args.user_command == "passwd":
        password, generated = _read_password(args.password_stdin)
        await users.set_password(e, CLI_ACTOR, args.username, password)
        print(f"password changed for {args.username}")
        if generated:
            print(f"password: {password}")
        return 0
    disabled = args.user_command == "disable"
    await users.set_disabled(e, CLI_ACTOR, args.username, disabled)
    print(f"{args.username} {'disabled' if disabled else 'enabled'}")
    return 0


async def _api_key(engine: AsyncEngine, args: argparse.Namespace) -> int:
    _key, plain = await api_keys.create_key(
        engine,
        CLI_ACTOR,
        name=args.name,
        scopes={api_keys.Scope(s) for s in args.scope},
        username=args.user,
    )
    print(plain)
    return 0


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        if args.command == "user":
            return asyncio.run(with_engine(settings, lambda e: _user(e, args)))
        return asyncio.run(with_engine(settings, lambda e: _api_key(e, args)))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
