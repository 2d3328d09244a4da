"""Server-rendered pages (Jinja2, autoescaped)."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from web.i18n import MESSAGES, translate
from web.keys import LANGUAGE, REQUEST_ID, SESSION, TEMPLATES

TEMPLATE_DIR = Path(__file__).parent / "templates"


def make_environment(display_timezone: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=StrictUndefined,
    )
    zone = ZoneInfo(display_timezone)

    def localtime(at: datetime | None) -> str:
        return at.astimezone(zone).strftime("%Y-%m-%d %H:%M") if at else ""

    def money(amount: str) -> str:
        return f"{Decimal(amount):,.2f}"

    env.filters["localtime"] = localtime
    env.filters["money"] = money
    # Pages' scripts format times in the same zone as the server-rendered ones.
    env.globals["display_timezone"] = display_timezone
    return env


def _script_json(value: object) -> str:
    """JSON safe to place inside a <script> element (no "</script>" can appear)."""
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")


def render(
    request: web.Request, template: str, *, status: int = 200, **context: Any
) -> web.Response:
    language = request.get(LANGUAGE, "zh-CN")
    session = request.get(SESSION)
    html = (
        request.app[TEMPLATES]
        .get_template(template)
        .render(
            lang=language,
            t=lambda key, **kw: translate(language, key, **kw),
            # Pages' scripts read their text from here (JSON, never executed).
            messages_json=_script_json(MESSAGES[language]),
            session=session,
            csrf_token=session.csrf_token if session else "",
            request_id=request.get(REQUEST_ID),
            path=request.path,
            **context,
        )
    )
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
