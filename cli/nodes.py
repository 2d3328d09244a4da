"""Several nodes: run an identity-check worker, list the nodes, drain one."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from cluster.bus import Bus, to_node
from cluster.nodes import RedisNodes
from cluster.redis_client import connect
from config.services import local_kyc_workers, local_validation, open_blob_store
from config.settings import Settings
from jobs.worker import WorkerServices, run_worker
from store.blobs import JOB_INPUTS
from store.database import create_engine


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub.add_parser(
        "worker",
        help="run identity-check jobs from the queue (SIGNROOM_REDIS_URL) until stopped",
    )
    node = sub.add_parser("node", help="the cluster's nodes").add_subparsers(
        dest="node_command", required=True
    )
    node.add_parser("list", help="the live nodes, their calls and whether they drain")
    drain = node.add_parser(
        "drain",
        help="stop a node taking new calls, let its calls finish or move them, then stop it",
    )
    drain.add_argument("node_id")


def _needs_redis(settings: Settings) -> None:
    if not settings.redis_url:
        raise SystemExit("this command needs SIGNROOM_REDIS_URL (several nodes)")


async def _worker(settings: Settings) -> int:
    engine = create_engine(settings.database_url)
    kyc = local_kyc_workers(settings)
    validation = local_validation(settings)
    services = WorkerServices(
        engine, open_blob_store(settings, JOB_INPUTS), kyc, validation, settings.cluster.node_id
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"signroom worker {services.worker_id} taking identity-check jobs", flush=True)
    try:
        await run_worker(
            settings.redis_url,
            services,
            job_timeout=settings.identity_job_timeout_seconds,
            stop=stop,
        )
    finally:
        await asyncio.to_thread(kyc.close)
        await asyncio.to_thread(validation.close)
        await engine.dispose()
    return 0


async def _list(settings: Settings) -> int:
    redis = connect(settings.redis_url)
    try:
        nodes = await RedisNodes(redis, settings.cluster, lambda: 0).alive()
    finally:
        await redis.aclose()
    for node in sorted(nodes, key=lambda n: n.id):
        state = "draining" if node.draining else "serving"
        print(f"{node.id}\t{node.address}\tcalls={node.calls}\t{state}")
    return 0


async def _drain(settings: Settings, node_id: str) -> int:
    redis = connect(settings.redis_url)
    try:
        if not await RedisNodes(redis, settings.cluster, lambda: 0).is_alive(node_id):
            print(f"no live node {node_id}", file=sys.stderr)
            return 1
        heard = await Bus(redis, "cli").publish(to_node(node_id), {"op": "drain"})
    finally:
        await redis.aclose()
    if not heard:
        print(f"node {node_id} did not hear the request", file=sys.stderr)
        return 1
    print(f"node {node_id} drains: no new calls; it stops once its calls ended or moved")
    return 0


def run(args: argparse.Namespace, settings: Settings) -> int:
    _needs_redis(settings)
    if args.command == "worker":
        return asyncio.run(_worker(settings))
    if args.node_command == "list":
        return asyncio.run(_list(settings))
    return asyncio.run(_drain(settings, args.node_id))
