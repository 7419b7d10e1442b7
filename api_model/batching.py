"""Dynamic batching, framework-free: concurrent callers wait in a queue, flushed as one model call.

The design of Triton's dynamic batcher and Ray Serve's ``@serve.batch``: a batch is flushed when it
holds ``max_batch_size`` items or when its first item has waited ``max_wait_ms``. Each caller gets its
own answer; an error in a batch fails the callers of that batch only, and a caller that stops waiting
(its timeout, or its deadline: ``api_common.deadline``) leaves the others alone and is left out of a
batch that has not started. Two flavours, for the two ways a worker holds requests at once:
an event loop (the FastAPI twin on uvicorn or granian) and threads (the Flask twin on gunicorn gthread
or granian's WSGI threads). A gunicorn ``sync`` worker holds one request at a time: nothing to batch.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def _check(max_batch_size: int, max_wait_ms: float) -> None:
    if max_batch_size < 1 or max_wait_ms < 0:
        raise ValueError("need max_batch_size >= 1 and max_wait_ms >= 0")


class AsyncBatcher(Generic[T, R]):
    """Batches the items submitted by the coroutines of one event loop."""

    def __init__(self, run: Callable[[list[T]], Awaitable[list[R]]], max_batch_size: int, max_wait_ms: float,
                 on_batch: Callable[[int], None] | None = None):  # fmt: skip
        _check(max_batch_size, max_wait_ms)
        self.run, self.max_batch_size, self.max_wait_s = run, max_batch_size, max_wait_ms / 1000
        self.on_batch = on_batch
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task] = set()

    async def submit(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._pending.append((item, future))
        if len(self._pending) >= self.max_batch_size:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self.max_wait_s, self._flush)
        return await future  # a caller cancelled by its timeout leaves the batch to the others

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending[: self.max_batch_size], self._pending[self.max_batch_size :]
        if self._pending:  # more than a batch arrived at once: the rest start their own wait
            self._timer = asyncio.get_running_loop().call_later(self.max_wait_s, self._flush)
        if batch:
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self._tasks.add(task)  # keep a reference until it is done
            task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        batch = [(item, future) for item, future in batch if not future.done()]  # its caller stopped waiting
        if not batch:
            return
        if self.on_batch:
            self.on_batch(len(batch))
        try:
            results = await self.run([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"a batch of {len(batch)} got {len(results)} answers")
        except Exception as exc:  # the callers of this batch fail with it, no one else
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)


class ThreadBatcher(Generic[T, R]):
    """Batches the items submitted by the threads of one process: a flusher thread forms the batches,
    a pool of ``concurrent_batches`` threads runs them (so a slow batch does not hold the next one)."""

    def __init__(self, run: Callable[[list[T]], list[R]], max_batch_size: int, max_wait_ms: float,
                 on_batch: Callable[[int], None] | None = None, concurrent_batches: int = 4):  # fmt: skip
        _check(max_batch_size, max_wait_ms)
        self.run, self.max_batch_size, self.max_wait_s = run, max_batch_size, max_wait_ms / 1000
        self.on_batch = on_batch
        self.concurrent_batches = concurrent_batches
        self._pool: ThreadPoolExecutor | None = None
        self._pending: list[tuple[T, Future[R], float]] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def submit(self, item: T, timeout_s: float | None = None) -> R:
        """Wait for this item's answer; ``TimeoutError`` after ``timeout_s`` (the batch goes on)."""
        future: Future[R] = Future()
        with self._cond:
            if self._thread is None:  # started lazily: gunicorn forks after the app is built
                self._pool = ThreadPoolExecutor(self.concurrent_batches, thread_name_prefix="batch")
                self._thread = threading.Thread(target=self._loop, name="batcher", daemon=True)
                self._thread.start()
            self._pending.append((item, future, time.monotonic()))
            self._cond.notify()
        try:
            return future.result(timeout_s)
        except TimeoutError:
            future.cancel()  # not started yet: left out of its batch (a started one runs on)
            raise

    def _next_batch(self) -> list[tuple[T, Future[R], float]]:
        with self._cond:
            while True:
                if self._pending:
                    due = self._pending[0][2] + self.max_wait_s
                    if len(self._pending) >= self.max_batch_size or time.monotonic() >= due:
                        batch = self._pending[: self.max_batch_size]
                        self._pending = self._pending[self.max_batch_size :]
                        return batch
                    self._cond.wait(due - time.monotonic())
                else:
                    self._cond.wait()

    def _loop(self) -> None:
        while True:
            batch = self._next_batch()
            live = [(item, future) for item, future, _ in batch if future.set_running_or_notify_cancel()]
            if live:
                self._pool.submit(self._run, live)

    def _run(self, live: list[tuple[T, Future[R]]]) -> None:
        if self.on_batch:
            self.on_batch(len(live))
        try:
            results = self.run([item for item, _ in live])
            if len(results) != len(live):
                raise RuntimeError(f"a batch of {len(live)} got {len(results)} answers")
        except Exception as exc:  # the callers of this batch fail with it, no one else
            for _, future in live:
                future.set_exception(exc)
            return
        for (_, future), result in zip(live, results, strict=True):
            future.set_result(result)
