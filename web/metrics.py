"""Prometheus metrics at /metrics: one registry per app, so tests can run several apps.

HTTP latency by route, the media counters, KYC and signing durations with their
outcomes, the event loop's lag and the webhook outbox's depth. Labels never carry
personal data: routes are templates, outcomes are codes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from media.call import Call
from media.traffic import Traffic

LAG_INTERVAL = 0.5


class MediaCollector(Collector):
    """Reads the live calls and the media counters at scrape time."""

    def __init__(self, calls: Callable[[], list[Call]], traffic: Traffic) -> None:
        self._calls = calls
        self._traffic = traffic

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        calls = self._calls()
        yield GaugeMetricFamily("signroom_active_calls", "Calls in progress", value=len(calls))
        yield CounterMetricFamily(
            "signroom_media_packets",
            "Encoded packets received from participants (each forwarded and recorded)",
            value=self._traffic.packets,
        )
        yield CounterMetricFamily(
            "signroom_media_bytes",
            "Encoded media bytes received, forwarded and written to recordings",
            value=self._traffic.bytes,
        )
        bitrate = sum(
            participant.last_quality.bitrate_kbps or 0.0
            for call in calls
            for participant in call.participants.values()
            if participant.last_quality is not None
        )
        yield GaugeMetricFamily(
            "signroom_media_bitrate_kbps",
            "Video bitrate received from all participants, as last measured",
            value=bitrate,
        )


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http = Histogram(
            "signroom_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.kyc = Histogram(
            "signroom_kyc_duration_seconds",
            "Identity check duration by operation and outcome",
            ["operation", "outcome"],
            buckets=(0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64),
            registry=self.registry,
        )
        self.signing = Histogram(
            "signroom_signing_duration_seconds",
            "Contract signing step duration by step and outcome",
            ["step", "outcome"],
            registry=self.registry,
        )
        self.loop_lag = Gauge(
            "signroom_event_loop_lag_seconds",
            "How late the event loop ran a timer, last sample",
            registry=self.registry,
        )
        self.webhook_queue = Gauge(
            "signroom_webhook_queue_depth",
            "Webhook deliveries waiting to be sent",
            registry=self.registry,
        )
        self.people_with_face_data = Gauge(
            "signroom_people_with_face_data",
            "Distinct people whose selfies, liveness clips or stills are held (filing at 100,000)",
            registry=self.registry,
        )
        self.webhook_deliveries = Counter(
            "signroom_webhook_deliveries",
            "Webhook delivery attempts by result",
            ["result"],
            registry=self.registry,
        )

    def watch_media(self, calls: Callable[[], list[Call]], traffic: Traffic) -> None:
        self.registry.register(MediaCollector(calls, traffic))

    @contextmanager
    def timed(self, histogram: Histogram, **labels: str) -> Iterator[dict[str, str]]:
        """Observe the block's duration; the block may set labels["outcome"]."""
        values = dict(labels)
        values.setdefault("outcome", "ok")
        start = time.perf_counter()
        try:
            yield values
        except Exception as exc:
            if values["outcome"] == "ok":
                values["outcome"] = str(getattr(exc, "code", type(exc).__name__))
            raise
        finally:
            histogram.labels(**values).observe(time.perf_counter() - start)


async def measure_loop_lag(metrics: Metrics) -> AsyncIterator[None]:
    """Cleanup context: sample how late a timer fires, twice a second."""

    async def sample() -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(LAG_INTERVAL)
            metrics.loop_lag.set(max(loop.time() - start - LAG_INTERVAL, 0.0))

    task = asyncio.create_task(sample())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
