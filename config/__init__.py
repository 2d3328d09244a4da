"""The service's settings, composed from each package's own settings objects, and
the wiring that turns them into the services the web app and the CLI run.

May import every domain package; never web or cli.
"""
