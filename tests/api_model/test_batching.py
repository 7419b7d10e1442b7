"""Dynamic batching: flush on size and on time, each caller its own answer, failures kept to their batch."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from api_model.batching import AsyncBatcher, ThreadBatcher
from tests.conftest import BUSY_MARGIN_S

LONG_WAIT_MS = 10_000  # a wait that would show: a flush on size must not wait for it


def doubled(items):
    return [2 * x for x in items]


def failing_if_negative(items):
    if any(x < 0 for x in items):
        raise ValueError("a negative item")
    return doubled(items)


def test_async_batch_flushes_when_full_and_each_caller_gets_its_own_answer():
    sizes = []

    async def run(items):
        return doubled(items)

    async def main():
        batcher = AsyncBatcher(run, max_batch_size=4, max_wait_ms=LONG_WAIT_MS, on_batch=sizes.append)
        return await asyncio.gather(*(batcher.submit(x) for x in range(8)))

    t0 = time.monotonic()
    assert asyncio.run(main()) == [2 * x for x in range(8)]
    assert sizes == [4, 4] and time.monotonic() - t0 < BUSY_MARGIN_S  # not the 10 s wait


def test_async_batch_flushes_after_max_wait():
    sizes, wait_ms = [], 50

    async def run(items):
        return doubled(items)

    async def main():
        batcher = AsyncBatcher(run, max_batch_size=64, max_wait_ms=wait_ms, on_batch=sizes.append)
        t0 = time.monotonic()
        out = await asyncio.gather(batcher.submit(1), batcher.submit(2))
        return out, time.monotonic() - t0

    out, elapsed = asyncio.run(main())
    assert out == [2, 4] and sizes == [2]
    assert wait_ms / 1000 <= elapsed < wait_ms / 1000 + BUSY_MARGIN_S


def test_async_failure_fails_only_its_batch_and_a_caller_timeout_only_that_caller():
    async def run(items):
        if 99 in items:
            await asyncio.sleep(0.5)  # a slow batch: its caller gives up first
        return failing_if_negative(items)

    async def main():
        batcher = AsyncBatcher(run, max_batch_size=2, max_wait_ms=LONG_WAIT_MS)
        good = [batcher.submit(1), batcher.submit(2)]  # batch 1
        bad = [batcher.submit(-1), batcher.submit(3)]  # batch 2: fails
        slow = [asyncio.wait_for(batcher.submit(99), 0.05), batcher.submit(4)]  # batch 3: 99's caller gives up
        return await asyncio.gather(*good, *bad, *slow, return_exceptions=True)

    r = asyncio.run(main())
    assert r[:2] == [2, 4]
    assert all(isinstance(x, ValueError) for x in r[2:4])
    assert isinstance(r[4], TimeoutError) and r[5] == 8  # the other caller of the slow batch is answered


def test_thread_batch_flushes_when_full_from_concurrent_threads():
    sizes, lock = [], threading.Lock()

    def record(n):
        with lock:
            sizes.append(n)

    batcher = ThreadBatcher(doubled, max_batch_size=4, max_wait_ms=LONG_WAIT_MS, on_batch=record)
    t0 = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        out = list(pool.map(batcher.submit, range(8)))
    assert out == [2 * x for x in range(8)]
    assert sorted(sizes) == [4, 4] and time.monotonic() - t0 < BUSY_MARGIN_S


def test_thread_batch_flushes_after_max_wait():
    sizes, wait_ms = [], 50
    batcher = ThreadBatcher(doubled, max_batch_size=64, max_wait_ms=wait_ms, on_batch=sizes.append)
    t0 = time.monotonic()
    assert batcher.submit(21) == 42
    elapsed = time.monotonic() - t0
    assert sizes == [1] and wait_ms / 1000 <= elapsed < wait_ms / 1000 + BUSY_MARGIN_S


def test_thread_failure_fails_only_its_batch_and_a_caller_timeout_only_that_caller():
    def run(items):
        if 99 in items:
            time.sleep(0.5)
        return failing_if_negative(items)

    batcher = ThreadBatcher(run, max_batch_size=2, max_wait_ms=LONG_WAIT_MS)
    with ThreadPoolExecutor(6) as pool:
        first = [pool.submit(batcher.submit, x) for x in (1, 2)]
        for f in first:
            f.result(timeout=BUSY_MARGIN_S)  # batch 1 answered before batch 2 forms
        bad = [pool.submit(batcher.submit, x) for x in (-1, 3)]
        for f in bad:
            with pytest.raises(ValueError):
                f.result(timeout=BUSY_MARGIN_S)
        slow = [pool.submit(batcher.submit, 99, 0.05), pool.submit(batcher.submit, 4)]
        with pytest.raises(TimeoutError):
            slow[0].result()
        assert slow[1].result(timeout=BUSY_MARGIN_S + 0.5) == 8
    assert [f.result() for f in first] == [2, 4]


def test_batcher_settings_are_checked():
    with pytest.raises(ValueError):
        ThreadBatcher(doubled, max_batch_size=0, max_wait_ms=1)
    with pytest.raises(ValueError):
        AsyncBatcher(doubled, max_batch_size=1, max_wait_ms=-1)
