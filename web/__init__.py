"""HTTP side: app factory, routes, auth and sessions, pages, the `signroom` CLI.

May import every other package; nothing imports `web`.
"""
