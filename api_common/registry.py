"""A registry of swappable parts: one module each in a package, found by name, or in folders of the user's.

The servers, the frameworks, the model backends and the experiments are each such a package: a module
``NAME.py`` defines the part under an agreed attribute (``SERVER``, ``FRAMEWORK``, ``BACKEND``,
``EXPERIMENT``). A folder named by the registry's environment variable (``LAB_SERVER_PATH`` and its
kin, ``os.pathsep``-separated) adds modules kept outside the lab's tree; one of them of the same name as
a built-in one takes its place. Modules are imported when a part is first asked for, never at import.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
import sys
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class UnknownPart(ValueError):
    pass


class MissingDependency(ValueError):
    """A part whose module imports a library that is not installed."""


class Registry(Generic[T]):
    def __init__(self, package: str, path: list[str], attribute: str, env_var: str, kind: str):
        self.package, self.path, self.attribute = package, list(path), attribute
        self.env_var, self.kind = env_var, kind
        self._loaded: dict[tuple[str, str], T] = {}

    def _extra(self) -> list[str]:
        return [p for p in os.environ.get(self.env_var, "").split(os.pathsep) if p]

    def names(self) -> list[str]:
        """Every registered part's name: the package's modules and those of the user's folders."""
        found = pkgutil.iter_modules(self.path + self._extra())
        return sorted({m.name for m in found if not m.name.startswith("_")})

    def _load(self, name: str) -> T | None:
        try:
            return self._import(name)
        except ModuleNotFoundError as exc:
            if exc.name == f"{self.package}.{name}":
                return None
            raise MissingDependency(f"{self.kind} {name} needs {exc.name}, which is not installed") from exc

    def _import(self, name: str) -> T:
        for folder in self._extra():
            path = os.path.join(folder, f"{name}.py")
            if os.path.exists(path):
                spec = importlib.util.spec_from_file_location(f"lab_{self.attribute.lower()}_{name}", path)
                module = importlib.util.module_from_spec(spec)
                sys.modules[spec.name] = module
                spec.loader.exec_module(module)
                return getattr(module, self.attribute)
        return getattr(importlib.import_module(f"{self.package}.{name}"), self.attribute)

    def get(self, name: str) -> T:
        key = (name, os.environ.get(self.env_var, ""))
        if key not in self._loaded:
            part = self._load(name) if name in self.names() else None
            if part is None:
                raise UnknownPart(f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}")
            self._loaded[key] = part
        return self._loaded[key]

    def all(self) -> list[Any]:
        return [self.get(n) for n in self.names()]
