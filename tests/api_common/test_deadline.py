"""Deadlines: a budget bounds the calls made for it and is passed on as what is left (api_common/deadline.py)."""

from __future__ import annotations

import asyncio
import time

import pytest

from api_common import deadline
from api_common.errors import ApiError
from api_model.batching import AsyncBatcher, ThreadBatcher


def test_a_deadline_counts_the_wait_before_it_was_read():
    d = deadline.Deadline.after(1.0, waited_s=0.4)
    assert 0.5 < d.remaining_s() <= 0.6
    assert d.bound(2.0) == pytest.approx(d.remaining_s(), abs=0.01)  # the budget is the tighter bound
    assert d.bound(0.1) == 0.1  # the call's own timeout is
    assert not d.expired() and deadline.Deadline.after(0.1, waited_s=0.2).expired()
    assert deadline.Deadline.after(0.1, waited_s=0.2).bound(1.0) == 0.0  # never negative


def test_what_is_left_travels_in_whole_milliseconds():
    ms = int(deadline.Deadline.after(0.25).headers()[deadline.HEADER])
    assert 240 <= ms <= 250
    assert deadline.Deadline.after(0.1, waited_s=1).headers()[deadline.HEADER] == "0"


def test_the_caller_can_send_less_never_more():
    assert deadline.of(None, None) is None
    assert 0.9 < deadline.of(None, 1.0).remaining_s() <= 1.0
    assert deadline.of("50", 1.0).remaining_s() <= 0.05
    assert 0.9 < deadline.of("5000", 1.0).remaining_s() <= 1.0
    assert deadline.of("50", None).remaining_s() <= 0.05


@pytest.mark.parametrize("value", ["soon", "-1", "nan", "inf", ""])
def test_a_budget_that_is_not_a_number_of_milliseconds_is_a_400(value):
    with pytest.raises(ApiError) as err:
        deadline.budget_s(value)
    assert (err.value.status, err.value.code) == (400, "invalid_header")


def test_an_async_caller_that_gave_up_is_left_out_of_its_batch():
    ran: list[list[int]] = []

    async def run(items):
        ran.append(items)
        return items

    async def main():
        batcher = AsyncBatcher(run, max_batch_size=8, max_wait_ms=50)
        impatient = asyncio.ensure_future(asyncio.wait_for(batcher.submit(1), 0.01))
        patient = asyncio.ensure_future(batcher.submit(2))
        with pytest.raises(TimeoutError):
            await impatient
        assert await patient == 2

    asyncio.run(main())
    assert ran == [[2]]


def test_a_thread_caller_that_gave_up_is_left_out_of_its_batch():
    ran: list[list[int]] = []
    batcher = ThreadBatcher(lambda items: ran.append(items) or items, max_batch_size=8, max_wait_ms=100)
    with pytest.raises(TimeoutError):
        batcher.submit(1, timeout_s=0.01)
    assert batcher.submit(2, timeout_s=5) == 2
    time.sleep(0.05)
    assert [1] not in ran and all(1 not in batch for batch in ran)
