"""Figures the reliability tests measured, kept for the README's Reliability section.

Each test adds its figures to ``$LAB_RELIABILITY_RECORD`` (default ``.lab/reliability.json``),
so a run of the suite leaves a record of what it saw; the tests' assertions do not depend on it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def record(key: str, figures: dict) -> None:
    path = Path(os.environ.get("LAB_RELIABILITY_RECORD", ".lab/reliability.json"))
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    data[key] = figures
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    os.replace(tmp, path)
