"""`make cluster`: PostgreSQL, Redis, SeaweedFS, two nodes on :8081 and :8082, an
identity-check worker and HAProxy on :8080, in the foreground until Ctrl-C.

Its state lives under var/cluster (the database survives a restart); the
settings the nodes run with are written to var/cluster/env, so that
`. var/cluster/env; signroom ...` talks to the cluster, and each node's pid to
var/cluster/node1.pid and node2.pid.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

from localcluster.cluster import LocalCluster
from localcluster.errors import ServerUnavailable
from localcluster.nodes import run_command

ROOT = Path("var/cluster")


def main() -> int:
    cluster = LocalCluster(
        ROOT,
        balancer_port=8080,
        node_ports=(8081, 8082),
        workers=1,
        keep_database=True,
        # As `make demo`: ArcFace on InsightFace's research-only model (README), and
        # audit checkpoints exported beside the data.
        settings={
            "SIGNROOM_FACE_ENGINE": "arcface",
            "SIGNROOM_CHECKPOINT_EXPORT_DIR": str((ROOT / "checkpoints").resolve()),
        },
    )
    print("starting PostgreSQL, Redis, SeaweedFS, two nodes, a worker and HAProxy ...", flush=True)
    try:
        cluster.start()
    except ServerUnavailable as exc:
        print(f"the cluster could not start: {exc}", file=sys.stderr)
        return 1
    (ROOT / "env").write_text(cluster.env_file())
    for node in cluster.nodes:
        (ROOT / f"{node.name}.pid").write_text(f"{node.pid}\n")
    print(run_command(["demo-seed"], cluster.command_env()), flush=True)
    print(f"signroom cluster: {cluster.url} (HAProxy) in front of", flush=True)
    for node in cluster.nodes:
        print(f"  {node.name} {node.url} (pid {node.pid}, log {node.log})", flush=True)
    print(f"settings: . {ROOT / 'env'}; Ctrl-C stops everything", flush=True)
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    stopped.wait()
    print("stopping the cluster ...", flush=True)
    cluster.stop()
    for node in cluster.nodes:
        (ROOT / f"{node.name}.pid").unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
