"""The web frameworks a service's app is written with: one module each in this package, found by name.

A framework module defines ``FRAMEWORK``, a :class:`Framework`: for each tier (the model API, the scoring
handler) and each kind of app (WSGI, ASGI), the ``module:function`` that builds that app over the
framework-free service layers (``api_model.service``, ``api_scoring.service``). A chain's settings say the
app kind it runs (its clients block or await); the setting ``app`` names the framework. The row names its
factories and imports no tier: each tier owns its app for each framework (``api_model/quart_app.py``,
``api_scoring/quart_app.py``), over the framework's glue in ``api_common`` (``quart_glue.py``). Adding a
framework is one app module per tier plus a row here, or in a folder named by ``LAB_FRAMEWORK_PATH``.
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

    @classmethod
    def per_tier(cls, name: str, module: str, kinds: tuple[str, ...]) -> Framework:
        """The usual row: ``api_<tier>.<module>:create_app`` for each tier and app kind (``{kind}`` in ``module``
        names one module per kind)."""
        apps = {(tier, kind): f"api_{tier}.{module.format(kind=kind)}:create_app" for tier in TIERS for kind in kinds}
        return cls(name, apps)

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
