"""The HTTP side: app factory, middleware, auth and sessions, routes, pages, OpenAPI
and the JSON error mapping.

May import every package but cli; only cli imports `web` (to serve, seed the demo
and manage staff accounts).
"""
