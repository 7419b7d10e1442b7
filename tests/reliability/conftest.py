from __future__ import annotations

import pytest

from lab import control, variants
from tests.conftest import lab_settings, make_stack, start

FAST_MODEL = {"latency_min_ms": 0.5, "latency_max_ms": 1, "workers": 2}
# Stacks whose parsing and serving differ from the default's: granian's servers (both chains), the floor's
# bare apps with orjson, waitress with Quart, and Starlette. Each is fuzzed like the default.
FUZZED = {"default": [], "granian": ["sync-granian", "async-granian"], "floor-orjson": ["sync-floor", "async-floor"],
          "waitress-quart": ["sync-waitress", "async-quart"], "starlette": ["async-starlette"]}  # fmt: skip


def _overrides(names: list[str], extra: dict | None = None) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for name in names:
        for service, values in variants.get(name).overrides().items():
            out.setdefault(service.replace("-", "_"), {}).update(values | (extra or {}))
    return out


@pytest.fixture(scope="module", params=list(FUZZED))
def fuzz_stack(request, tmp_path_factory):
    """A real stack whose models answer in about 1 ms, so thousands of cases run quickly."""
    extra = {"json_library": "orjson"} if "orjson" in request.param else {}
    o = {"model_sync": dict(FAST_MODEL), "model_async": dict(FAST_MODEL), "scoring_sync": {"workers": 2}}
    for service, values in _overrides(FUZZED[request.param], extra).items():
        o.setdefault(service, {}).update(values)
    for model in ("model_sync", "model_async"):
        o[model]["workers"] = 2
    for values in o.values():  # waitress is one process: its threads are its workers
        if values.get("server") == "waitress":
            values.pop("workers", None)
    stack = make_stack(**o)
    lab = lab_settings(tmp_path_factory.mktemp("fuzz"))
    start(stack, lab)
    try:
        yield request.param, stack
    finally:
        control.down(lab, log=lambda *_: None)
