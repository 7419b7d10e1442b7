"""A model trained once and cached under the lab's state folder, written atomically (worker processes race)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

M = TypeVar("M")


def cached(path: Path, train: Callable[[], M], save: Callable[[M, Path], None], load: Callable[[Path], M]) -> M:
    """The model at ``path``, else ``train()``'s, saved there first: every process loads the same file."""
    if not path.exists():
        model = train()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=path.suffix)
        os.close(fd)
        try:
            save(model, Path(tmp))
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    return load(path)
