"""Where the wall time of one request went, read from a saved pyinstrument session.

Each frame's self time goes to the category of its outermost categorised ancestor: a JSON
encode inside a model call counts as waiting on the models, as the request experienced it.
"""

from __future__ import annotations

from pathlib import Path

CATEGORIES = ("models", "redis", "serialisation", "framework")
# The scoring handler's clients (api_scoring/clients_sync.py, clients_async.py): feature readers' ``get`` talks
# to Redis, everything else there calls the model API.
CLIENTS = "api_scoring/clients_"
SERIALISATION = {
    "parse_body",
    "jsonify",
    "render",
    "dumps",
    "loads",
    "validate_python",
    "model_dump",
    "aggregate",
}


def category(function: str, file_path: str) -> str | None:
    path = file_path.replace("\\", "/")
    if CLIENTS in path:
        return "redis" if function == "get" else "models"
    if "/redis/" in path:
        return "redis"
    if function in SERIALISATION or "/json/" in path:
        return "serialisation"
    return None


def breakdown(session_path: Path) -> dict[str, float]:
    """Milliseconds per category, plus the total, for the request in ``session_path``."""
    from pyinstrument.session import Session

    root = Session.load(str(session_path)).root_frame()
    totals = dict.fromkeys(CATEGORIES, 0.0)
    if root is None:
        return {**totals, "total": 0.0}
    stack = [(root, None)]
    while stack:
        frame, inherited = stack.pop()
        cat = inherited or category(frame.function or "", frame.file_path or "")
        children = frame.children
        self_time = frame.time - sum(c.time for c in children)
        totals[cat or "framework"] += max(self_time, 0.0)
        stack.extend((c, cat) for c in children)
    result = {k: round(v * 1000, 2) for k, v in totals.items()}
    result["total"] = round(root.time * 1000, 2)
    return result
