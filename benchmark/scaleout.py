"""The model tier scaled out under compose (``make scaleout``): capacity of a chain whose model tier runs 1, then 2
replicas of one CPU share each (Ray worker containers, or the lab's model pool), and their ratio.

Each count is its own compose stack, brought up, measured by ``lab capacity --url`` (the chain's scoring handler,
one fixed body) and brought down by the Makefile, one after the other: the two stacks cannot run side by side on
one engine's ports, so the counts are **not interleaved** and the ratio's interval rests on each search's own
rounds, not on pairs of them. This module reads the runs back and gives the ratio.

    python -m benchmark.scaleout RUN_WITH_1 RUN_WITH_2
"""

from __future__ import annotations

import sys
from pathlib import Path

from benchmark.endpoint import FOLDER
from benchmark.loadgen import capacity
from benchmark.render.tables import ratio_text


def ratio(one: Path, two: Path) -> dict | None:
    """The capacity of run ``two`` over run ``one``'s, with its 95% bootstrap interval (``Capacity.ratio_to``)."""
    first, second = capacity.load(one / FOLDER), capacity.load(two / FOLDER)
    if first is None or second is None:
        return None
    return second.ratio_to(first)


def main(argv: list[str]) -> int:
    one, two = (Path(a) for a in argv)
    for label, run in (("1 replica", one), ("2 replicas", two)):
        cap = capacity.load(run / FOLDER)
        print(f"{label}: {cap.text() if cap else 'no capacity'} ({run})")
    print(f"2 / 1: {ratio_text(ratio(one, two))} (one stack after the other, not interleaved)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
