"""Server-rendered pages (Jinja2, autoescaped)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from web.i18n import DEFAULT_LANGUAGE, script_text
from web.keys import LANGUAGE, PAGES, REQUEST_ID, SESSION, SETTINGS
from web.page_scripts import script_keys


def _script_json(value: object) -> str:
    """JSON safe to place inside a <script> element (no "</script>" can appear)."""
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")


def render(
    request: web.Request, template: str, *, status: int = 200, **context: Any
) -> web.Response:
    language = request.get(LANGUAGE, DEFAULT_LANGUAGE)
    session = request.get(SESSION)
    html = (
        request.app[PAGES]
        .environment(language)
        .get_template(template)
        .render(
            lang=language,
            # The page's scripts read their text from here (JSON, never executed):
            # only the keys those scripts use.
            messages_json=_script_json(script_text(language, script_keys(template))),
            session=session,
            csrf_token=session.csrf_token if session else "",
            request_id=request.get(REQUEST_ID),
            path=request.path,
            bank_name=request.app[SETTINGS].bank_name,
            **context,
        )
    )
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
