"""The web frameworks a service's app is written with: one module each in this package, found by name.

A framework module defines ``FRAMEWORK``, a :class:`Framework`: for each tier (the model API, the scoring
handler) and each kind of app (WSGI, ASGI), the ``module:function`` that builds that app over the
framework-free service layers (``api_model.service``, ``api_scoring.service``). A chain's settings say the
app kind it runs (its clients block or await); the setting ``app`` names the framework. Adding one is
adding a module here, or in a folder named by ``LAB_FRAMEWORK_PATH``; its factories may live in the same
module (``frameworks/quart.py``) or beside the services (``api_model/flask_app.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from api_common.registry import Registry

TIERS = ("model", "scoring")


@dataclass(frozen=True)
class Framework:
    name: str
    # (tier, app kind) -> "module:function" returning the app; a function takes the tier's settings or none.
    apps: dict[tuple[str, str], str]

    def kinds(self, tier: str) -> tuple[str, ...]:
        return tuple(kind for t, kind in self.apps if t == tier)

    def factory(self, tier: str, kind: str) -> tuple[str, str]:
        """The module and function that build this framework's ``kind`` app of ``tier``."""
        try:
            module, _, function = self.apps[(tier, kind)].partition(":")
        except KeyError:
            raise ValueError(
                f"framework {self.name} builds no {kind} app for the {tier} tier (it builds: "
                f"{', '.join(self.kinds(tier)) or 'none'})"
            ) from None
        return module, function or "create_app"


REGISTRY: Registry[Framework] = Registry(__name__, __path__, "FRAMEWORK", "LAB_FRAMEWORK_PATH", "framework")
names, get = REGISTRY.names, REGISTRY.get
