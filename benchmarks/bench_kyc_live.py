"""Liveness judged on a call's own frames (live_identity): how long from the
server's prompt to its verdict, how many frames the judge measures per CPU
second, and what a call costs with a check running against the same call
without one. One process, two aiortc peers on loopback: the applicant's camera
is d12 (tests/data/video) making each movement 0.2 s after it is asked for;
the manager receives. Both phases start a judge and close it, so the worker's
model loading is in both.

    python -m benchmarks.bench_kyc_live [--checks N] [--seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from kyc.liveness import Challenge
from live_identity.challenges import LiveChallenges
from live_identity.frames import PooledFrameJudge
from live_identity.session import TAP_FPS
from media.call import Call, CallSettings, Side
from media.ice import IceSettings
from tests.live_support import CHALLENGES, WINDOW, RespondingCamera, d12_frames
from tests.media_support import Client, RecordedEvents


@dataclass
class Phase:
    wall: float = 0.0
    cpu: float = 0.0  # this process and the judge's worker
    judge_cpu: float = 0.0
    judged: int = 0
    latencies: list[float] = field(default_factory=list)  # prompt to verdict, s


class Prompts:
    """The tell of a run: when each prompt left, when its verdict came; the
    camera answers each prompt 0.2 s after it."""

    def __init__(self, camera: RespondingCamera, latencies: list[float]) -> None:
        self.camera = camera
        self.latencies = latencies
        self.sent: dict[int, float] = {}

    async def tell(self, message: Mapping[str, object]) -> None:
        index = int(str(message["index"]))
        if message["type"] == "prompt":
            self.sent[index] = time.monotonic()
            loop = asyncio.get_running_loop()
            loop.call_later(0.2, self.camera.move, str(message["challenge"]))
        elif message["type"] == "verdict":
            self.latencies.append(time.monotonic() - self.sent[index])


def cpu_seconds() -> tuple[float, float]:
    """This process's CPU, and that of its ended (waited-for) children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


async def one_call(folder: Path, *, checks: int, seconds: float) -> Phase:
    events = RecordedEvents()
    settings = CallSettings(IceSettings(), folder / "recordings", grace=timedelta(seconds=3))
    call = Call(f"bench-{checks}", settings, events)
    camera = RespondingCamera(d12_frames())
    applicant = Client(Side.APPLICANT, camera=camera)
    manager = Client(Side.MANAGER)
    judge = PooledFrameJudge(processes=1, timeout_seconds=10, memory_limit_bytes=3 * 1024**3)
    phase = Phase()
    try:
        for side, client in ((Side.APPLICANT, applicant), (Side.MANAGER, manager)):
            await call.join(side, side.value, client.notify)
            await client.connect(call)
        await manager.wait_for_frames(30)
        assert call.tap is not None
        before_self, before_children = cpu_seconds()
        started = time.monotonic()
        if checks:
            call.tap.set_rate(TAP_FPS)
            for _ in range(checks):
                prompts = Prompts(camera, phase.latencies)
                run = LiveChallenges(lambda: call.tap, judge, window=WINDOW, tell=prompts.tell)
                await run.run([Challenge(c) for c in CHALLENGES.split(",")])
                phase.judged += run.judged
        else:
            await judge.judge(await call.tap.next_frame())  # the same model loading
            await asyncio.sleep(seconds)
        phase.wall = time.monotonic() - started
    finally:
        judge.close()
        await applicant.close()
        await manager.close()
        await call.end("bench_finished")
    after_self, after_children = cpu_seconds()
    phase.judge_cpu = after_children - before_children
    phase.cpu = (after_self - before_self) + phase.judge_cpu
    return phase


async def main(checks: int, seconds: float) -> str:
    with tempfile.TemporaryDirectory(prefix="bench-kyc-live-") as directory:
        folder = Path(directory)
        base = await one_call(folder / "base", checks=0, seconds=seconds)
        checked = await one_call(folder / "checked", checks=checks, seconds=seconds)
    latencies = sorted(checked.latencies)
    p95 = statistics.quantiles(latencies, n=20)[18] if len(latencies) > 1 else latencies[0]
    cost_base = base.cpu / base.wall
    cost_checked = checked.cpu / checked.wall
    return (
        f"bench-kyc-live: checks={checks} challenges={len(latencies)} "
        f"verdict_p50_ms={statistics.median(latencies) * 1000:.0f} "
        f"verdict_p95_ms={p95 * 1000:.0f} "
        f"frames_judged={checked.judged} "
        f"frames_per_cpu_s={checked.judged / max(checked.judge_cpu, 1e-9):.1f} "
        f"call_cores={cost_base:.2f} call_with_check_cores={cost_checked:.2f} "
        f"cpu_ratio={cost_checked / cost_base:.2f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--checks", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=20.0)
    arguments = parser.parse_args()
    print(asyncio.run(main(arguments.checks, arguments.seconds)))
