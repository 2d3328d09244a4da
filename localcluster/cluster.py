"""Several signroom nodes on one machine, as a bank would run them on several:
PostgreSQL, Redis and an S3 server (SeaweedFS) shared by two nodes and an
identity-check worker, and HAProxy in front. `make cluster` runs it; the
cluster tests start one of their own on free ports.

Every node gets the same SIGNROOM_* settings (written to `env` for a shell),
but for its id, port and data directory (recordings being written, a cache of
blobs it serves); the CA directory is shared, as a mounted volume would be.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path

from localcluster.haproxy import HaproxyServer
from localcluster.nodes import Node, Worker, run_command
from localcluster.postgres import PostgresServer
from localcluster.processes import free_port
from localcluster.redis import RedisServer
from localcluster.seaweedfs import SeaweedServer


class LocalCluster:
    def __init__(
        self,
        root: Path,
        *,
        balancer_port: int | None = None,
        node_ports: tuple[int | None, ...] = (None, None),
        workers: int = 1,
        database_url: str | None = None,
        keep_database: bool = False,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        self.root = root.resolve()
        self.balancer_port = balancer_port or free_port()
        self.node_ports = [port or free_port() for port in node_ports]
        self.worker_count = workers
        self.given_database_url = database_url
        # A database under `root` that outlives a restart (make cluster), or a
        # throwaway one in a directory of its own the postgres user can reach.
        self.keep_database = keep_database
        self.settings = dict(settings or {})
        self.postgres: PostgresServer | None = None
        self.redis: RedisServer | None = None
        self.s3: SeaweedServer | None = None
        self.balancer: HaproxyServer | None = None
        self.nodes: list[Node] = []
        self.workers: list[Worker] = []
        self.env: dict[str, str] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.balancer_port}"

    def start(self) -> None:
        """Start everything, in the order a deployment would; on a failure, stop
        whatever had started."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        database_url = self.given_database_url
        if database_url is None:
            self.postgres = PostgresServer(self._database_dir() if self.keep_database else None)
            self.postgres.start()
            database_url = self.postgres.url
        self.redis = RedisServer(self.root / "redis")
        self.redis.start()
        self.s3 = SeaweedServer(self.root / "s3")
        self.s3.start()
        self.env = self._environment(database_url)
        # Once, before the nodes: the schema, and the CA every node shares.
        run_command(["migrate"], self._node_env("setup"))
        run_command(["pki", "export-root", str(self.root / "root.pem")], self._node_env("setup"))
        self.nodes = [
            Node(f"node{i}", port, self._node_env(f"node{i}"), self.root / f"node{i}.log")
            for i, port in enumerate(self.node_ports, start=1)
        ]
        self.workers = [
            Worker(f"worker{i}", self._node_env(f"worker{i}"), self.root / f"worker{i}.log")
            for i in range(1, self.worker_count + 1)
        ]
        for worker in self.workers:
            worker.start()
        for node in self.nodes:
            node.start()
        self.balancer = HaproxyServer(
            [(node.name, node.port) for node in self.nodes],
            self.root / "haproxy",
            port=self.balancer_port,
        )
        self.balancer.start()

    def _database_dir(self) -> Path:
        """`root`/postgres, unless the `postgres` user (PostgreSQL refuses to run
        as root) cannot reach it: a checkout under /root, say. Then a directory of
        its own in the temporary directory, kept between runs while it lasts."""
        wanted = self.root / "postgres"
        if os.geteuid() != 0 or all(
            os.stat(parent).st_mode & stat.S_IXOTH for parent in wanted.parents
        ):
            return wanted
        digest = hashlib.sha256(str(self.root).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"signroom-cluster-{digest}" / "postgres"

    def _environment(self, database_url: str) -> dict[str, str]:
        assert self.redis is not None
        assert self.s3 is not None
        return {
            "SIGNROOM_DATABASE_URL": database_url,
            "SIGNROOM_REDIS_URL": self.redis.url,
            "SIGNROOM_BLOB_URL": f"s3://{self.s3.bucket}",
            "SIGNROOM_S3_ENDPOINT_URL": self.s3.endpoint,
            "SIGNROOM_S3_REGION": self.s3.region,
            "SIGNROOM_S3_ACCESS_KEY": self.s3.access_key,
            "SIGNROOM_S3_SECRET_KEY": self.s3.secret_key,
            "SIGNROOM_CA_DIR": str(self.root / "pki"),
            "SIGNROOM_IDENTITY_JOBS": "redis",
            "SIGNROOM_PUBLIC_URL": self.url,
            "SIGNROOM_DATA_DIR": str(self.root / "shared"),
            **self.settings,
        }

    def _node_env(self, name: str) -> dict[str, str]:
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("SIGNROOM_")}
        return {**inherited, **self.env, "SIGNROOM_DATA_DIR": str(self.root / name)}

    def command_env(self) -> dict[str, str]:
        """The environment a `signroom ...` command run against this cluster needs."""
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("SIGNROOM_")}
        return {**inherited, **self.env}

    def env_file(self) -> str:
        """`export` lines: `. var/cluster/env; signroom ...` talks to the cluster."""
        return "".join(f"export {k}={shlex.quote(v)}\n" for k, v in sorted(self.env.items()))

    def node(self, name: str) -> Node:
        return next(node for node in self.nodes if node.name == name)

    def stop(self) -> None:
        """Stop everything that was started, in the reverse order."""
        if self.balancer is not None:
            self.balancer.stop()
        for node in self.nodes:
            node.stop(grace=10)
        for worker in self.workers:
            worker.stop(grace=10)
        for server in (self.s3, self.redis):
            if server is not None:
                server.stop()
        if self.redis is not None:
            self.redis.close()
        if self.postgres is not None:
            self.postgres.stop()
