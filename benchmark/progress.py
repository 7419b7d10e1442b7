"""Progress of a long command: one line per step, as a log keeps it, each with an estimate of the time left; and on
a terminal, a live bar under the lines (rich's, with its own time-remaining column).

The estimate is the plan, not a guess from the speed so far: each step says how long it expects to take from
the profile (``Experiment.expected_s``), and a step that knows better as it goes (the capacity search, once its
brackets are closed, knows every probe it has left) says what it has left (``left``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

VARIANT_START_S = 20.0  # a variant's chain started, verified and warmed up (lab compare, lab goodput): for the plan


def duration_text(seconds: float) -> str:
    """``about 4 min left``, ``under a minute left``."""
    if seconds < 60:
        return "under a minute left"
    return f"about {round(seconds / 60)} min left"


class Progress:
    """Steps with their expected seconds; calling it writes a message with the time left."""

    def __init__(
        self, write: Callable[[str], None] = print, steps: Iterable[tuple[str, float]] = (), live: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ):  # fmt: skip
        self.write, self.clock = write, clock
        self.steps = dict(steps)
        self.current: str | None = None
        self.started = clock()
        self.own_left: float | None = None  # what the current step said it has left, and when
        self.said_at = self.started
        self.bar = _Bar(sum(self.steps.values())) if live else None

    @classmethod
    def of(cls, progress: Callable[[str], None] | Progress) -> Progress:
        """``progress`` itself, or a plain callable (a test's, a caller's) wrapped with no live bar."""
        return progress if isinstance(progress, Progress) else cls(progress)

    def plan(self, steps: Iterable[tuple[str, float]]) -> None:
        """The steps ahead, in order, with their expected seconds."""
        self.steps = dict(steps)
        if self.bar is not None:
            self.bar.progress.update(self.bar.task, total=max(sum(self.steps.values()), 1.0))

    def begin(self, name: str, expected_s: float | None = None) -> None:
        """Step ``name`` starts (its expected seconds, if the plan did not have it)."""
        if expected_s is not None:
            self.steps[name] = expected_s
        self.current, self.started, self.own_left = name, self.clock(), None

    def left(self, seconds: float) -> None:
        """The current step's own estimate of what it has left."""
        self.own_left, self.said_at = seconds, self.clock()

    def remaining(self) -> float:
        """Seconds left: the current step's (its own word, else its plan less its time so far), then the rest."""
        names = list(self.steps)
        after = names[names.index(self.current) + 1 :] if self.current in self.steps else names
        if self.current is None:
            now = 0.0
        elif self.own_left is not None:
            now = max(0.0, self.own_left - (self.clock() - self.said_at))
        else:
            now = max(0.0, self.steps.get(self.current, 0.0) - (self.clock() - self.started))
        return now + sum(self.steps[n] for n in after)

    def __call__(self, message: str) -> None:
        left = self.remaining() if self.steps else None
        line = f"{message}  [{duration_text(left)}]" if left is not None else message
        if self.bar is not None:
            self.bar.show(line, left)
        else:
            self.write(line)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


class _Bar:
    """rich's live progress bar: the lines above it, the elapsed and remaining time beside it."""

    def __init__(self, total: float):
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                                 TimeRemainingColumn(), transient=True)  # fmt: skip
        self.task = self.progress.add_task("lab", total=max(total, 1.0))
        self.begun = time.monotonic()
        self.progress.start()

    def show(self, line: str, left: float | None) -> None:
        self.progress.console.print(f"[{time.strftime('%H:%M:%S')}] {line}", markup=False, highlight=False)
        done = time.monotonic() - self.begun
        total = done + left if left is not None else None
        self.progress.update(self.task, completed=done, total=total)

    def stop(self) -> None:
        self.progress.stop()
