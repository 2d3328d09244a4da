"""A PostgreSQL server from Debian's packages.

initdb into a directory (a temporary one unless given; a given one is reused on
the next start) and a server on a loopback port, as the `postgres` system user
when run as root (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from localcluster.errors import ServerUnavailable
from localcluster.processes import free_port, wait_for_port


def _bin_dir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    found = shutil.which("initdb")
    if not found:
        raise ServerUnavailable(
            "PostgreSQL server binaries not found; `make test` installs Debian's "
            "postgresql package when run as root"
        )
    return Path(found).parent


class PostgresServer:
    def __init__(self, root: Path | None = None, port: int | None = None) -> None:
        self.bin = _bin_dir()
        self.port = port or free_port()
        self._temporary = root is None
        self.root = root or Path(tempfile.mkdtemp(prefix="signroom-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "log"
        self.user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        self.url = f"postgresql+asyncpg://{self.user}@127.0.0.1:{self.port}/postgres"
        self.started = False

    def _run(self, args: Sequence[str]) -> None:
        command = list(args)
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(  # noqa: S603 - PostgreSQL's own tools
            command, capture_output=True, text=True, timeout=120, check=False
        )
        if result.returncode != 0:
            raise ServerUnavailable(
                f"{' '.join(args[:2])} failed ({result.returncode}): {result.stderr[-2000:]}"
            )

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        if not (self.data / "PG_VERSION").is_file():
            self._run(
                [
                    str(self.bin / "initdb"),
                    "-D",
                    str(self.data),
                    "-A",
                    "trust",
                    "-U",
                    self.user,
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ]
            )
        # A throwaway cluster need not survive a power cut.
        durability = "-c fsync=off " if self._temporary else ""
        self._run(
            [
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-w",
                "-t",
                "60",
                "start",
                "-o",
                f"-h 127.0.0.1 -p {self.port} -k {self.root} {durability}-c max_connections=200",
            ]
        )
        wait_for_port(self.port, None, self.log, 30)
        self.started = True

    def stop(self) -> None:
        try:
            if not self.started:
                return
            mode = "immediate" if self._temporary else "fast"
            self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "stop"])
        finally:
            if self._temporary:
                shutil.rmtree(self.root, ignore_errors=True)
