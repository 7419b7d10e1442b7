"""The experiments: one module each in this package, found by name and run in their ``order``.

An experiment module defines ``EXPERIMENT``, an :class:`Experiment`: its name (the ``lab`` command),
the profile options it reads (the command's flags), how it runs against a running stack, what it
prints when it ends, and its sections and plots in the report. The CLI, the suite (``make run``)
and the report all read this registry: adding an experiment is adding one module here, or in a folder named by
``LAB_EXPERIMENT_PATH`` (an experiment of the user's own).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api_common.registry import Registry

if TYPE_CHECKING:
    from benchmark.profiles import Profile
    from benchmark.progress import Progress
    from benchmark.render.tables import Section
    from lab.settings import LabSettings
    from lab.stack import Stack


@dataclass
class Context:
    """What an experiment runs with; ``found`` carries figures to the experiments after it."""

    stack: Stack
    lab: LabSettings
    profile: Profile
    path: Path  # the run folder
    progress: Progress  # call it with a message; ``left(seconds)`` when a step knows what it has left
    found: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Option:
    """An option of an experiment's own (the shared ones are the profile's fields): its command's flag
    ``--name-with-dashes``, of ``type``, with a value for each profile; the run reads it as
    ``ctx.profile.option(name)``, and the manifest records it with the profile's."""

    name: str
    type: type
    quick: Any
    full: Any
    help: str = ""


@dataclass(frozen=True)
class Experiment:
    name: str
    order: int  # the order experiments run in, and appear in the report
    title: str  # a phrase: "capacity at a latency bound (LoadGen, open loop)"
    help: str  # the ``lab NAME`` command's help
    options: tuple[str | Option, ...]  # the profile fields it reads, and options of its own (the command's flags)
    run: Callable[[Context], dict[str, Any]]  # measures; returns what the manifest records of the step
    sections: Callable[[dict[str, Any]], list[Section]] = lambda summary: []
    plots: Callable[[dict[str, Any]], dict[str, bytes]] = lambda summary: {}
    console: Callable[[dict[str, Any]], list[str]] = lambda summary: []  # printed when the command ends
    # (run folder, manifest) -> what it reads of its own files, merged into the report's summary.
    summarise: Callable[[Path, dict[str, Any]], dict[str, Any]] = lambda run, manifest: {}
    main_job: bool = True  # whether ``make run`` runs it
    # Seconds it expects to take for both chains at a profile: the plan a long command's time left is read from.
    expected_s: Callable[[Profile], float] = lambda profile: 0.0
    # How it measures one endpoint of the user's instead of the chains (``lab NAME --url URL --body FILE``):
    # (url, body file, lab settings, profile, progress, publish) -> the run folder; None when it cannot.
    endpoint: Callable[..., Path] | None = None


REGISTRY: Registry[Experiment] = Registry(__name__, __path__, "EXPERIMENT", "LAB_EXPERIMENT_PATH", "experiment")


def all_experiments() -> list[Experiment]:
    """Every registered experiment, in order."""
    return sorted(REGISTRY.all(), key=lambda e: e.order)


def get(name: str) -> Experiment:
    for exp in all_experiments():
        if exp.name == name:
            return exp
    raise KeyError(f"unknown experiment {name!r}; known: {', '.join(e.name for e in all_experiments())}")


def main_job() -> tuple[str, ...]:
    """What ``make run`` runs after its smoke test, in order."""
    return tuple(e.name for e in all_experiments() if e.main_job)


def options() -> tuple[str | Option, ...]:
    """Every profile option some experiment reads, and every experiment's own."""
    return tuple(dict.fromkeys(o for e in all_experiments() for o in e.options))


def resolve_profile(name: str, given: dict[str, Any]) -> Profile:
    """Profile ``name`` with the experiments' own options at that profile's values, and what was ``given`` on top
    (None: not given)."""
    from benchmark.profiles import PROFILES

    own = {o.name: getattr(o, "full" if name == "full" else "quick") for o in options() if isinstance(o, Option)}
    return PROFILES[name].with_options(**(own | {k: v for k, v in given.items() if v is not None}))
