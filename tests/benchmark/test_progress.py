"""A long command's time left, read from its plan: each line carries it, and a step that knows better says so."""

from __future__ import annotations

from benchmark.progress import Progress, duration_text


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_each_line_carries_the_time_left_as_planned():
    clock, lines = Clock(), []
    p = Progress(lines.append, [("verify", 15), ("capacity", 300), ("locust", 240)], clock=clock)
    p.begin("verify")
    p("verifying")
    assert p.remaining() == 555 and lines[-1] == "verifying  [about 9 min left]"
    clock.now = 100.0  # verification ran long: its plan is spent, the rest still ahead
    p.begin("capacity")
    assert p.remaining() == 540
    clock.now = 160.0
    p.left(30.0)  # the capacity search: its brackets closed, 30 s of probes left
    clock.now = 170.0
    assert p.remaining() == 20 + 240
    p.begin("locust")
    clock.now = 400.0
    p("done")
    assert lines[-1] == "done  [under a minute left]"


def test_a_plain_callable_is_wrapped_and_a_progress_is_kept():
    lines: list[str] = []
    p = Progress.of(lines.append)
    p("no plan")
    assert lines == ["no plan"]
    assert Progress.of(p) is p


def test_durations_read_as_a_person_says_them():
    assert duration_text(30) == "under a minute left"
    assert duration_text(150) == "about 2 min left"
