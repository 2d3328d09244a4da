"""Several nodes: what relaying signalling costs, how identity checks scale with
workers, and how long a call is without media when its node dies.

    python -m benchmarks.bench_cluster [--calls N] [--seconds S] [--rounds R]
                                       [--reads N] [--uploads N] [--kills K]

Runs the cluster `make cluster` runs (localcluster/): PostgreSQL, Redis,
SeaweedFS, two nodes, a worker and HAProxy, on free loopback ports, with pages
speaking the real signalling over WebSockets (tests/cluster_support.py) and
sending bench-media's pre-encoded 640x480 15 fps VP8 of a real face and Opus, so
the load generator stays cheap; received video is counted as reassembled frames,
never decoded.

- Relay: the same N calls held twice in each round, back to back: `direct`, both
  participants signalling to the node hosting their call, and `relayed`, the
  manager through the other node (every message relayed over the bus). Calls per
  core is calls over the CPU of both node processes (their /proc counters) while
  the calls run; `relay_ratio` is relayed over direct (target >= 0.9), medians
  over the rounds. A mode counts only at >= 99 % of the frames sent delivered.
- Identity checks: `--reads` document reads at once, with one worker process and
  then with two (reads per minute), and `--uploads` uploads one after another
  through a node that queues the job and through a node that runs it in its own
  worker process (p50/p95 from upload to result, seconds).
- Node loss: `--kills` times a call runs with its participants on different
  nodes, its node is killed (SIGKILL) and the time until both pages receive media
  again is measured (p50/p95, seconds); the node is started again in between.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aiortc import RTCPeerConnection
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from yarl import URL

from audit.log import Actor
from benchmarks.bench_media import (
    Counter,
    attach_paced_media,
    load_packets,
    make_clip,
)
from loans import applications as apps
from loans.access import SYSTEM_PRINCIPAL
from loans.roles import Role
from loans.states import Action
from localcluster.cluster import LocalCluster
from localcluster.nodes import Node, Worker
from localcluster.processes import free_port
from store.database import create_engine
from store.schema import call_placements
from tests.cluster_support import PageCall
from tests.document_flow import matching_documents, upload
from tests.web_support import APPLICATION, PASSWORD, Browser
from web.auth import users

HELD = 0.99
SETTINGS = {
    "SIGNROOM_FACE_ENGINE": "arcface",
    "SIGNROOM_NODE_HEARTBEAT_MS": "500",
    "SIGNROOM_NODE_TTL_MS": "3000",
    "SIGNROOM_KYC_WORKERS": "1",
    "SIGNROOM_IDENTITY_JOB_TIMEOUT_SECONDS": "60",
    "SIGNROOM_LOG_LEVEL": "WARNING",
}
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class PacedMedia:
    """bench-media's pre-encoded clip out, received video counted, not decoded."""

    clip: dict[str, list[bytes]]
    counter: Counter = field(default_factory=Counter)

    @property
    def video_frames(self) -> int:
        return self.counter.video

    def attach(self, pc: RTCPeerConnection) -> None:
        attach_paced_media(pc, self.clip, self.counter)

    async def detach(self) -> None:
        return None


def cpu_seconds(pids: Sequence[int]) -> float:
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def _sent(pages: list[PageCall]) -> int:
    return sum(p.media.counter.sent for p in pages if isinstance(p.media, PacedMedia))


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


class Bench:
    def __init__(self, cluster: LocalCluster, engine: AsyncEngine, clip: dict[str, list[bytes]]):
        self.cluster = cluster
        self.engine = engine
        self.clip = clip

    def url(self, name: str) -> URL:
        return URL(self.cluster.node(name).url)

    async def staff(self, node: str) -> Browser:
        name = f"m{uuid.uuid4().hex[:10]}"
        await users.create_user(
            self.engine,
            Actor("cli", "admin"),
            username=name,
            display_name=name,
            role=Role.MANAGER.value,
            password=PASSWORD,
        )
        browser = Browser(self.url(node))
        assert (await browser.login(name)).status == 200
        return browser

    async def case(self, manager: Browser, node: str, *, interview: bool) -> tuple[str, Browser]:
        made = await manager.request("POST", "/api/applications", json=APPLICATION)
        invited = await manager.request("POST", f"/api/applications/{made.body['id']}/invites")
        applicant = Browser(self.url(node))
        assert (await applicant.open_invite(invited.body["link"])).status == 303
        if interview:
            await apps.act(self.engine, SYSTEM_PRINCIPAL, made.body["id"], Action.VERIFY_IDENTITY)
            accepted = await manager.request("POST", f"/api/applications/{made.body['id']}/call")
            assert accepted.status == 200, accepted.text
        else:
            consent = await applicant.request(
                "POST", "/api/applicant/consent", json={"recording": True, "data_use": True}
            )
            assert consent.status == 200, consent.text
        return made.body["id"], applicant

    async def host_of(self, application_id: str) -> str:
        async with self.engine.connect() as conn:
            node: str = (
                await conn.execute(
                    select(call_placements.c.node_id).where(
                        call_placements.c.application_id == application_id
                    )
                )
            ).scalar_one()
        return node

    def other(self, node: str) -> str:
        return "node2" if node == "node1" else "node1"

    # Relay ---------------------------------------------------------------------

    async def hold_calls(self, calls: int, seconds: float, relayed: bool) -> dict[str, float]:
        manager = await self.staff("node1")
        pages: list[PageCall] = []
        browsers = [manager]
        cases = []
        try:
            for _ in range(calls):
                application_id, applicant = await self.case(manager, "node1", interview=True)
                cases.append(application_id)
                browsers.append(applicant)
                host = await self.host_of(application_id)
                through = self.other(host) if relayed else host
                on_node = manager.at(self.url(through))
                browsers.append(on_node)
                for browser, node in ((applicant, host), (on_node, through)):
                    page = PageCall(
                        browser.session, [self.url(node)], application_id, PacedMedia(self.clip)
                    )
                    page.start()
                    pages.append(page)
            await asyncio.gather(*(page.frames_after(15, within=60) for page in pages))
            await asyncio.sleep(2)  # past the first key frames and bitrate ramp
            pids = [node.pid for node in self.cluster.nodes if node.pid is not None]
            sent = sum(p.media.counter.sent for p in pages if isinstance(p.media, PacedMedia))
            received = sum(page.video_frames for page in pages)
            cpu, wall = cpu_seconds(pids), time.monotonic()
            await asyncio.sleep(seconds)
            cores = (cpu_seconds(pids) - cpu) / (time.monotonic() - wall)
            sent = (
                sum(p.media.counter.sent for p in pages if isinstance(p.media, PacedMedia)) - sent
            )
            received = sum(page.video_frames for page in pages) - received
            return {"calls": calls, "cores": cores, "delivered": received / sent if sent else 0.0}
        finally:
            for page in pages:
                await page.close()
            for application_id in cases:
                await manager.request("POST", f"/api/calls/{application_id}/end")
            for browser in browsers:
                await browser.close()

    # Identity checks -------------------------------------------------------------

    async def reads_per_minute(self, reads: int) -> float:
        front = matching_documents()[0]
        manager = await self.staff("node1")
        applicants = [(await self.case(manager, "node1", interview=False))[1] for _ in range(reads)]
        try:
            started = time.monotonic()
            answers = await asyncio.gather(*(upload(a, "id_front", front) for a in applicants))
            elapsed = time.monotonic() - started
        finally:
            for browser in (manager, *applicants):
                await browser.close()
        assert all(a.status == 201 for a in answers), [a.text for a in answers if a.status != 201]
        return reads / elapsed * 60

    async def upload_seconds(self, node: str, uploads: int) -> list[float]:
        front = matching_documents()[0]
        manager = await self.staff(node)
        took = []
        try:
            for _ in range(uploads):
                _application_id, applicant = await self.case(manager, node, interview=False)
                started = time.monotonic()
                answer = await upload(applicant, "id_front", front)
                took.append(time.monotonic() - started)
                await applicant.close()
                assert answer.status == 201, answer.text
        finally:
            await manager.close()
        return took

    # Node loss -------------------------------------------------------------------

    async def kill_and_resume(self) -> float:
        manager = await self.staff("node1")
        application_id, applicant = await self.case(manager, "node1", interview=True)
        host = await self.host_of(application_id)
        survivor = self.other(host)
        nodes = [self.url("node1"), self.url("node2")]
        theirs = PageCall(
            applicant.session, nodes, application_id, PacedMedia(self.clip), node_index=0
        )
        ours = PageCall(manager.session, nodes, application_id, PacedMedia(self.clip), node_index=1)
        theirs.start()
        ours.start()
        try:
            await asyncio.gather(theirs.frames_after(30, 60), ours.frames_after(30, 60))
            killed = time.monotonic()
            self.cluster.node(host).kill()
            await asyncio.gather(theirs.frames_after(10, 60), ours.frames_after(10, 60))
            resumed = time.monotonic() - killed
        finally:
            await theirs.close()
            await ours.close()
            on_survivor = manager.at(self.url(survivor))
            await on_survivor.request("POST", f"/api/calls/{application_id}/end")
            for browser in (applicant, manager, on_survivor):
                await browser.close()
            await asyncio.to_thread(self.cluster.node(host).start)
        return resumed


async def main(args: argparse.Namespace) -> str:
    with tempfile.TemporaryDirectory() as folder:
        clip = load_packets(make_clip(Path(folder) / "clip.webm", 3000))
        cluster = LocalCluster(Path(folder) / "cluster", settings=SETTINGS)
        await asyncio.to_thread(cluster.start)
        engine = create_engine(cluster.env["SIGNROOM_DATABASE_URL"])
        bench = Bench(cluster, engine, clip)
        try:
            return await run(bench, args)
        finally:
            await engine.dispose()
            await asyncio.to_thread(cluster.stop)


async def run(bench: Bench, args: argparse.Namespace) -> str:
    rows: list[dict[str, dict[str, float]]] = []
    for index in range(1, args.rounds + 1):
        row = {
            mode: await bench.hold_calls(args.calls, args.seconds, relayed=mode == "relayed")
            for mode in ("direct", "relayed")
        }
        for mode, run_ in row.items():
            print(
                f"round {index} {mode:<8} calls={run_['calls']:.0f} cores={run_['cores']:.3f}"
                f" calls/core={run_['calls'] / run_['cores']:.1f}"
                f" delivered={run_['delivered']:.3f}",
                flush=True,
            )
        rows.append(row)

    def per_core(run_: dict[str, float]) -> float:
        return run_["calls"] / run_["cores"]

    held = [r for r in rows if min(r["direct"]["delivered"], r["relayed"]["delivered"]) >= HELD]
    ratios = [per_core(r["relayed"]) / per_core(r["direct"]) for r in held]

    one_worker = await bench.reads_per_minute(args.reads)
    cluster = bench.cluster
    second = Worker("worker2", cluster.workers[0].env, cluster.root / "worker2.log")
    cluster.workers.append(second)
    second.start()
    await asyncio.sleep(15)  # its models loaded, its health key seen
    two_workers = await bench.reads_per_minute(args.reads)
    print(f"reads/min: 1 worker {one_worker:.1f}, 2 workers {two_workers:.1f}", flush=True)
    queued = await bench.upload_seconds("node1", args.uploads)
    local_env = {**cluster.workers[0].env, "SIGNROOM_IDENTITY_JOBS": "local"}
    local = Node("local", free_port(), local_env, cluster.root / "local.log")
    cluster.nodes.append(local)
    await asyncio.to_thread(local.start)
    direct = await bench.upload_seconds("local", args.uploads)
    cluster.nodes.remove(local)
    await asyncio.to_thread(local.stop)
    print(
        f"upload to result: queued p50 {statistics.median(queued):.2f} s, local pool p50"
        f" {statistics.median(direct):.2f} s",
        flush=True,
    )

    resumes = []
    for index in range(args.kills):
        resumes.append(await bench.kill_and_resume())
        print(f"kill {index + 1}: media again after {resumes[-1]:.2f} s", flush=True)

    summary = {
        "relay_ratio": f"{statistics.median(ratios):.2f}" if ratios else "none",
        "relay_ratios": "/".join(f"{r:.2f}" for r in ratios) or "none",
        "direct_calls_per_core": f"{statistics.median(per_core(r['direct']) for r in rows):.1f}",
        "relayed_calls_per_core": f"{statistics.median(per_core(r['relayed']) for r in rows):.1f}",
        "delivered": f"{min(r[m]['delivered'] for r in rows for m in r):.3f}",
        "reads_per_min_1_worker": f"{one_worker:.1f}",
        "reads_per_min_2_workers": f"{two_workers:.1f}",
        "upload_p50_queued_s": f"{statistics.median(queued):.2f}",
        "upload_p95_queued_s": f"{p95(queued):.2f}",
        "upload_p50_local_s": f"{statistics.median(direct):.2f}",
        "upload_p95_local_s": f"{p95(direct):.2f}",
        "resume_p50_s": f"{statistics.median(resumes):.2f}",
        "resume_p95_s": f"{p95(resumes):.2f}",
    }
    return "bench-cluster: " + " ".join(f"{k}={v}" for k, v in summary.items())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reads", type=int, default=6)
    parser.add_argument("--uploads", type=int, default=6)
    parser.add_argument("--kills", type=int, default=5)
    print(asyncio.run(main(parser.parse_args())))
