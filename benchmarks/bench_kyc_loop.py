"""Event-loop lag while identity checks run: the service's loop must stay
responsive (target p99 <= 20 ms) while 4 document reads go through the worker
processes at once. The same ticker runs first with nothing else to do: that idle
lag is the baseline.

    python -m benchmarks.bench_kyc_loop [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from datetime import date

import cv2

from kyc.face_engine import FaceConfig
from kyc.workers import DocumentKind, Expectations, KycWorkers
from tests import specimens

TICK = 0.005
TODAY = date(2026, 11, 29)


async def ticker(stop: asyncio.Event, lags: list[float]) -> None:
    while not stop.is_set():
        start = time.perf_counter()
        await asyncio.sleep(TICK)
        lags.append(time.perf_counter() - start - TICK)


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


async def main(rounds: int) -> str:
    rng = random.Random(5)
    photos = []
    for _ in range(4):
        person = specimens.random_identity(rng, today=TODAY)
        photo = specimens.distort(specimens.draw_id_front(person), rng)
        photos.append(cv2.imencode(".jpg", photo)[1].tobytes())
    expect = Expectations("张三", "示例科技有限公司", "91350100M000100Y43")
    workers = KycWorkers(
        processes=2,
        timeout_seconds=120,
        memory_limit_bytes=3 * 1024**3,
        face=FaceConfig.from_environ(),
    )
    try:
        # Warm the workers (model loading is not what is measured).
        await asyncio.gather(
            *(
                workers.read(DocumentKind.ID_FRONT, p, today=TODAY, expect=expect)
                for p in photos[:2]
            )
        )
        idle: list[float] = []
        stop = asyncio.Event()
        task = asyncio.create_task(ticker(stop, idle))
        await asyncio.sleep(3)
        stop.set()
        await task
        busy: list[float] = []
        stop = asyncio.Event()
        task = asyncio.create_task(ticker(stop, busy))
        started = time.perf_counter()
        for _ in range(rounds):
            await asyncio.gather(
                *(
                    workers.read(DocumentKind.ID_FRONT, p, today=TODAY, expect=expect)
                    for p in photos
                )
            )
        elapsed = time.perf_counter() - started
        stop.set()
        await task
    finally:
        workers.close()
    return (
        f"bench-kyc-loop: reads={4 * rounds} concurrent=4 seconds={elapsed:.1f} "
        f"idle_p99_ms={p99(idle) * 1000:.2f} busy_p99_ms={p99(busy) * 1000:.2f} "
        f"busy_max_ms={max(busy) * 1000:.2f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    print(asyncio.run(main(parser.parse_args().rounds)))
