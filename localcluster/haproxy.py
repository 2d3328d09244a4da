"""Debian's HAProxy on loopback in front of the nodes.

A node gets traffic while its /readyz answers 200. When no node is ready (the
cluster's Redis is down, say, which every node shares) the requests still go to
the nodes that are alive (/healthz): they serve what they can and refuse new
calls with a clear error, rather than the balancer refusing everyone.
WebSockets pass through (the tunnel timeout is the call's, not a request's).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from localcluster.errors import ServerUnavailable
from localcluster.processes import free_port, spawn, stop, wait_for_port

_CONFIG = """\
global
    maxconn 4096

defaults
    mode http
    option forwardfor
    timeout connect 2s
    timeout client 60s
    timeout server 120s
    timeout tunnel 2h
    timeout http-request 10s

frontend signroom
    bind 127.0.0.1:{port}
    use_backend alive if {{ nbsrv(ready) lt 1 }}
    default_backend ready

backend ready
    balance leastconn
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 1s fall 2 rise 2
{ready}

backend alive
    balance leastconn
    option httpchk GET /healthz
    http-check expect status 200
    default-server inter 1s fall 2 rise 2
{alive}
"""


class HaproxyServer:
    def __init__(
        self, backends: Sequence[tuple[str, int]], root: Path | None = None, port: int | None = None
    ) -> None:
        program = shutil.which("haproxy") or "/usr/sbin/haproxy"
        if not Path(program).is_file():
            raise ServerUnavailable(
                "haproxy not found; `make test` installs Debian's haproxy package when run as root"
            )
        self.program = program
        self.port = port or free_port()
        self.backends = list(backends)
        self._temporary = root is None
        self.root = root or Path(tempfile.mkdtemp(prefix="signroom-haproxy-"))
        self.config = self.root / "haproxy.cfg"
        self.log = self.root / "haproxy.log"
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        def servers(suffix: str) -> str:
            return "\n".join(
                f"    server {name}{suffix} 127.0.0.1:{port} check" for name, port in self.backends
            )

        self.root.mkdir(parents=True, exist_ok=True)
        self.config.write_text(
            _CONFIG.format(port=self.port, ready=servers(""), alive=servers("-alive"))
        )
        self.process = spawn([self.program, "-db", "-f", str(self.config)], self.log)
        wait_for_port(self.port, self.process, self.log, 20)

    def stop(self) -> None:
        stop(self.process)
        self.process = None
        if self._temporary:
            shutil.rmtree(self.root, ignore_errors=True)
