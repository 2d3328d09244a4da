"""signroom's own processes, as a deployment runs them: `signroom serve` nodes
and `signroom worker`s, each with the environment it is given."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from localcluster.errors import ServerUnavailable
from localcluster.processes import kill, spawn, stop, tail

# The signroom command, as this Python runs it (the venv's, in tests and `make cluster`).
SIGNROOM = [sys.executable, "-m", "cli"]


def run_command(args: list[str], env: Mapping[str, str], timeout: float = 300) -> str:
    """One `signroom ...` command to completion; its output."""
    done = subprocess.run(  # noqa: S603 - our own command line
        [*SIGNROOM, *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise ServerUnavailable(f"signroom {' '.join(args)} failed: {done.stderr[-2000:]}")
    return done.stdout


class Node:
    """One `signroom serve` on 127.0.0.1:`port`."""

    def __init__(self, name: str, port: int, env: Mapping[str, str], log: Path) -> None:
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.env = {**env, "SIGNROOM_NODE_ID": name, "SIGNROOM_PORT": str(port)}
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self, *, ready_within: float = 180) -> None:
        self.stop()  # a process from before, if one is still there
        self.process = spawn([*SIGNROOM, "serve", "--port", str(self.port)], self.log, env=self.env)
        self.wait_until_healthy(ready_within)

    def wait_until_healthy(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise ServerUnavailable(f"node {self.name} exited: {tail(self.log)}")
            if self.health("/healthz") == 200:
                return
            time.sleep(0.3)
        raise ServerUnavailable(f"node {self.name} not up after {seconds:.0f} s: {tail(self.log)}")

    def health(self, path: str = "/readyz") -> int | None:
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as response:  # noqa: S310 - loopback
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return exc.code
        except (urllib.error.URLError, OSError):
            return None

    def readiness(self) -> dict[str, object]:
        try:
            with urllib.request.urlopen(self.url + "/readyz", timeout=5) as response:  # noqa: S310
                return dict(json.loads(response.read()))
        except urllib.error.HTTPError as exc:
            return dict(json.loads(exc.read()))

    def kill(self) -> None:
        """SIGKILL: the node dies as in a power cut, with no chance to hand over."""
        kill(self.process)

    def stop(self, grace: float = 30) -> None:
        stop(self.process, grace=grace)
        self.process = None


class Worker:
    """One `signroom worker` taking identity-check jobs."""

    def __init__(self, name: str, env: Mapping[str, str], log: Path) -> None:
        self.name = name
        self.env = {**env, "SIGNROOM_NODE_ID": name}
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self) -> None:
        self.stop()
        self.process = spawn([*SIGNROOM, "worker"], self.log, env=self.env)

    def kill(self) -> None:
        kill(self.process)

    def stop(self, grace: float = 30) -> None:
        stop(self.process, grace=grace)
        self.process = None
