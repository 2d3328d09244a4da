"""Real PostgreSQL, Redis, SeaweedFS (S3) and HAProxy servers on loopback, and
signroom nodes beside them: what `make cluster` runs and what the cluster tests
start for themselves.

Every server is the real program from Debian or PyPI, started on free ports in
a directory of its own and stopped (with whatever it leaves behind) on `stop()`.
Nothing here is imported by the service itself.
"""
