"""The advisor's space: the model-tier configurations worth trying on this machine, read from the server registry.

Each server module declares its knobs (``Server.knobs``: workers, threads, the lab's dynamic batching, its own
batching); the advisor adds its own axis, the threads of the model's runtime, and keeps workers x threads within
the cores (TorchServe's pull request 1138 and KServe's issue 1031: a runtime that takes every core in every
worker is throttled). Nothing here names a server: a new server module with knobs joins the space.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from api_common import servers
from api_common.registry import MissingDependency


@dataclass(frozen=True)
class Candidate:
    """One configuration of the model tier: its server, its chain's settings class, the overrides it sets."""

    name: str
    server: str
    chain: str  # "sync" (WSGI, the Flask twin's settings) or "async" (ASGI, the FastAPI twin's)
    overrides: dict = field(default_factory=dict)  # settings of the model tier beside the model's own

    @property
    def service(self) -> str:
        return f"model-{self.chain}"


def thread_counts(cores: int) -> list[int]:
    """The model runtime's threads per worker: 1, doubling, up to the cores (as the servers' worker counts)."""
    return servers.worker_counts(cores)


def _name(server: str, knob: dict, threads: int) -> str:
    parts = [server]
    if knob.get("worker_class"):
        parts.append(knob["worker_class"])
    if knob.get("workers"):
        parts.append(f"w{knob['workers']}" + (f"x{knob['threads']}" if knob.get("threads") else ""))
    if knob.get("max_wait_ms") is not None:
        parts.append(f"b{knob['max_batch_size']}-{knob['max_wait_ms']:g}ms")
    return "-".join([*parts, f"t{threads}"])


def _matches(candidate: Candidate, words: tuple[str, ...]) -> bool:
    return any(w == candidate.server or w in candidate.name for w in words)


def space(cores: int, only: tuple[str, ...] = (), exclude: tuple[str, ...] = (), oversubscribe: bool = False
          ) -> tuple[list[Candidate], list[str]]:  # fmt: skip
    """The candidates for a machine of ``cores`` cores, and a line for each server left out and why. ``only`` and
    ``exclude`` name servers or parts of candidates' names; ``oversubscribe`` lets workers x threads pass the
    cores."""
    found: list[Candidate] = []
    left_out: list[str] = []
    for name in servers.names():
        try:
            server = servers.get(name)
        except MissingDependency as exc:
            left_out.append(f"{name}: {exc}")
            continue
        knobs = server.knobs(cores)
        if not knobs:
            continue
        if server.absent():
            left_out.append(f"{name}: needs {', '.join(server.absent())} ({server.install} installs it)")
            continue
        for knob in knobs:
            overrides = {k: v for k, v in knob.items() if k != "chain"} | {"server": name}
            workers = knob.get("workers") or cores  # a server's default: one worker per core
            for threads in thread_counts(cores):
                if workers * threads > cores and not oversubscribe:
                    continue
                c = Candidate(_name(name, knob, threads), name, knob["chain"], overrides | {"model_threads": threads})
                found.append(c)
    if only:
        found = [c for c in found if _matches(c, only)]
    if exclude:
        found = [c for c in found if not _matches(c, exclude)]
    return found, left_out
