"""Worker processes with an address-space limit, whose calls have a timeout.

Each worker is a process of its own, ready (its models loaded) before it takes a
call, and serves one call at a time. A call waits for a free worker without its
clock running; the timeout counts only the work. A call past its timeout ends
that worker alone (a stuck worker never returns; ending the process is the only
way out) and a new one starts in its place, so one pathological input costs the
other callers nothing. Workers die with the server, even when it is killed
outright (Linux's parent-death signal), and leave no helper process behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import multiprocessing
import os
import resource
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

from workers.errors import WorkerCrashed, WorkTimedOut

T = TypeVar("T")

_PR_SET_PDEATHSIG = 1
# How long a new worker may take to load its models before it counts as failed.
STARTUP_SECONDS = 300.0


def _die_with(parent: int) -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)


def _serve(
    conn: Connection,
    parent: int,
    memory_limit_bytes: int,
    initializer: Callable[[], None] | None,
) -> None:
    """The worker's loop: ('ok', result) or ('error', exception) for each call."""
    _die_with(parent)
    resource.setrlimit(resource.RLIMIT_AS, (memory_limit_bytes, memory_limit_bytes))
    if initializer is not None:
        initializer()
    conn.send(("ready", None))
    while True:
        try:
            function, args = conn.recv()
        except EOFError:
            return
        try:
            reply: tuple[str, Any] = ("ok", function(*args))
        except MemoryError:
            # The heap may be in any state: report it and let the parent replace us.
            conn.send(("crashed", None))
            return
        except Exception as exc:
            reply = ("error", exc)
        conn.send(reply)


class _Worker:
    def __init__(self, pool: BoundedPool) -> None:
        context = multiprocessing.get_context("spawn")
        # spawn: the parent runs threads (database drivers), which fork would copy
        # in whatever state they were in.
        self.conn, child = context.Pipe()
        self.process: BaseProcess = context.Process(
            target=_serve,
            args=(child, os.getpid(), pool.memory_limit, pool.initializer),
            daemon=True,
            name="signroom-worker",
        )
        self.process.start()
        child.close()

    def exchange(self, message: tuple[Callable[..., Any], tuple[Any, ...]] | None) -> Any:
        """Send `message` (None: only wait), then wait for the reply; in a thread."""
        if message is not None:
            self.conn.send(message)
        return self.conn.recv()

    def end(self) -> None:
        # The pipe is left to close with this object: a thread may still be
        # reading it, and its descriptor must not be reused under that thread.
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)


class BoundedPool:
    def __init__(
        self,
        *,
        processes: int,
        timeout_seconds: float,
        memory_limit_bytes: int,
        initializer: Callable[[], None] | None = None,
    ) -> None:
        self.processes = processes
        self.timeout = timeout_seconds
        self.memory_limit = memory_limit_bytes
        self.initializer = initializer
        self._idle: asyncio.Queue[_Worker] | None = None
        self._workers: set[_Worker] = set()
        self._starting: set[asyncio.Task[None]] = set()
        # Threads that wait on the workers' pipes: one per call in progress and one
        # per worker starting, apart from the loop's default executor.
        self._threads = ThreadPoolExecutor(2 * processes, thread_name_prefix="worker-pipe")
        self._closed = False

    def _queue(self) -> asyncio.Queue[_Worker]:
        # Made on first use, on the loop that uses it.
        if self._idle is None:
            self._idle = asyncio.Queue()
            for _ in range(self.processes):
                self._start_one()
        return self._idle

    def _start_one(self) -> None:
        task = asyncio.ensure_future(self._ready(_Worker(self)))
        self._starting.add(task)
        task.add_done_callback(self._starting.discard)

    async def _ready(self, worker: _Worker) -> None:
        self._workers.add(worker)
        try:
            reply = await asyncio.wait_for(self._wait(worker, None), STARTUP_SECONDS)
        except (TimeoutError, EOFError, OSError):
            reply = None
        if self._closed:
            self._retire(worker)
            return
        if reply != ("ready", None):
            self._retire(worker)
            # Try again later rather than in a tight loop (a broken model file).
            await asyncio.sleep(5)
            if not self._closed:
                self._start_one()
            return
        assert self._idle is not None
        self._idle.put_nowait(worker)

    def _retire(self, worker: _Worker) -> None:
        self._workers.discard(worker)
        worker.end()

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise WorkerCrashed("the pool is closed")
        idle = self._queue()
        try:
            # Waiting for a free worker is not the call's time; waiting this long
            # means none could start, or the node is far over its load.
            worker = await asyncio.wait_for(idle.get(), STARTUP_SECONDS)
        except TimeoutError:
            raise WorkTimedOut(f"no worker was free within {STARTUP_SECONDS:.0f} s") from None
        try:
            status, value = await asyncio.wait_for(
                self._wait(worker, (function, args)), self.timeout
            )
        except TimeoutError:
            self._replace(worker)
            raise WorkTimedOut(f"the call ran past {self.timeout} s; worker ended") from None
        except (EOFError, OSError):
            self._replace(worker)
            raise WorkerCrashed("the worker's pipe closed: it died") from None
        except BaseException:
            # Cancelled while the worker works: it cannot be told to stop.
            self._replace(worker)
            raise
        if status == "crashed":
            self._replace(worker)
            raise WorkerCrashed("the worker died (memory limit or a native crash)")
        idle.put_nowait(worker)
        if status == "error":
            raise value
        return value  # type: ignore[no-any-return]

    def _wait(
        self, worker: _Worker, message: tuple[Callable[..., Any], tuple[Any, ...]] | None
    ) -> asyncio.Future[Any]:
        return asyncio.get_running_loop().run_in_executor(self._threads, worker.exchange, message)

    def _replace(self, worker: _Worker) -> None:
        self._retire(worker)
        if not self._closed:
            self._start_one()

    def close(self) -> None:
        """End every worker (callable from any thread)."""
        self._closed = True
        for worker in list(self._workers):
            self._retire(worker)
        self._threads.shutdown(wait=False, cancel_futures=True)
