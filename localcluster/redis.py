"""A Redis server from Debian's `redis-server` package, without persistence:
signroom keeps only ephemeral routing in it (node registry, call placement, the
message bus, the job queue's in-flight state)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from localcluster.errors import ServerUnavailable
from localcluster.processes import free_port, spawn, stop, wait_for_port


class RedisServer:
    def __init__(self, root: Path | None = None, port: int | None = None) -> None:
        program = shutil.which("redis-server")
        if program is None:
            raise ServerUnavailable(
                "redis-server not found; `make test` installs Debian's redis-server "
                "package when run as root"
            )
        self.program = program
        self.port = port or free_port()
        self._temporary = root is None
        self.root = root or Path(tempfile.mkdtemp(prefix="signroom-redis-"))
        self.log = self.root / "redis.log"
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start (or start again after `stop`, on the same port)."""
        self.process = spawn(
            [
                self.program,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
                "--daemonize",
                "no",
            ],
            self.log,
        )
        wait_for_port(self.port, self.process, self.log, 20)

    def stop(self) -> None:
        stop(self.process)
        self.process = None

    def close(self) -> None:
        self.stop()
        if self._temporary:
            shutil.rmtree(self.root, ignore_errors=True)
