"""The five services of the stack, their settings, and how they are wired to each other."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from api_common.contract import CHAINS, HEALTH_PATH, predict_path
from api_common.settings import ServiceSettings
from api_model.settings import ModelApiSettings, ModelAsyncSettings, ModelSyncSettings
from api_scoring.settings import ScoringAsyncSettings, ScoringSettings, ScoringSyncSettings
from feature_store.settings import RedisSettings
from lab.proxy import Proxy, ProxySettings

__all__ = ["CHAINS", "Service", "Stack", "build_stack"]


@dataclass(frozen=True)
class Service:
    name: str  # e.g. "model-sync"
    role: str  # "model" or "scoring"
    chain: str  # one of the contract's CHAINS
    settings: ServiceSettings
    external_url: str | None = None  # a service the lab measures but did not start (``--sync-url``)

    @property
    def app_factory(self) -> tuple[str, str]:
        """The module and function that build this service's app, from its framework (api_common/frameworks)."""
        return self.settings.framework().factory(self.role, self.settings.app_kind)

    @property
    def app_module(self) -> str:
        """``module:function`` of its app, as the run's manifest records it."""
        return ":".join(self.app_factory)

    @property
    def url(self) -> str:
        """Where clients reach it: behind a proxy, the proxy's (the same port)."""
        return self.external_url or self.settings.base_url

    @property
    def own_url(self) -> str:
        """Where its own server listens: behind a proxy, loopback at the handler's ``app_port``."""
        if self.role == "scoring" and not self.external_url and self.settings.proxy != "none":
            return f"http://127.0.0.1:{self.settings.bind_port()}"
        return self.url

    @property
    def own_health_url(self) -> str:
        return self.health_url.replace(self.url, self.own_url, 1)

    @property
    def health_url(self) -> str:
        if self.role == "model" and not self.external_url:
            return f"{self.url}{self.settings.runner().health_path}"  # a model server's own
        return f"{self.url}{HEALTH_PATH}"

    @property
    def health_json(self) -> bool:
        """Whether its health check answers the lab's ``{"status": "OK"}`` (a model server's may not)."""
        return self.role != "model" or bool(self.external_url) or self.settings.runner().health_json

    @property
    def predict_url(self) -> str:
        if self.role == "model" and not self.external_url:
            return f"{self.url}{self.settings.runner().path(self.settings)}"
        return f"{self.url}{predict_path(self.chain)}"

    @property
    def protocol(self) -> str:
        """How its predict path is asked (api_common/protocols.py): a model server's may not be the lab's."""
        return self.settings.runner().protocol if self.role == "model" and not self.external_url else "lab"


@dataclass(frozen=True)
class Stack:
    redis: RedisSettings
    services: tuple[Service, ...]
    proxies: tuple[Proxy, ...] = ()  # nginx in front of a chain's scoring handler (lab/proxy.py)

    def service(self, name: str) -> Service:
        for svc in self.services:
            if svc.name == name:
                return svc
        raise KeyError(f"unknown service {name!r}; known: {', '.join(self.names())}")

    def names(self) -> list[str]:
        """Every process the lab starts, in the order it starts them: a proxy after the handler behind it."""
        own = [p.name for p in self.proxies if not self.remote(p.chain)]
        return (["redis"] if not self.redis.external else []) + [s.name for s in self.services] + own

    def chain_names(self, chain: str) -> list[str]:
        """The processes that serve ``chain`` beside Redis, in the order they start: its proxy after its handler."""
        return [f"model-{chain}", f"scoring-{chain}"] + [p.name for p in self.proxies if p.chain == chain]

    def proxy(self, name: str) -> Proxy | None:
        return next((p for p in self.proxies if p.name == name), None)

    def scoring(self, chain: str) -> Service:
        return self.service(f"scoring-{chain}")

    def model(self, chain: str) -> Service:
        return self.service(f"model-{chain}")

    def remote(self, chain: str) -> bool:
        """Whether ``chain`` is measured at a URL given by the user rather than on the lab's own processes."""
        return self.scoring(chain).external_url is not None

    def at_urls(self, urls: dict[str, str | None]) -> Stack:
        """The same stack with the scoring handler of each chain in ``urls`` found at that URL instead.

        Such a chain is measured as a black box: the lab neither started it nor knows its settings,
        so it samples no processes and reads no server-side profiles for it.
        """
        services = []
        for svc in self.services:
            url = urls.get(svc.chain) if svc.role == "scoring" else None
            services.append(replace(svc, external_url=target_url(url)) if url else svc)
        proxies = tuple(p for p in self.proxies if not urls.get(p.chain))
        return replace(self, services=tuple(services), proxies=proxies)


class BadTargetUrl(ValueError):
    pass


def target_url(url: str) -> str:
    """``http(s)://host[:port]``, without a path: the lab appends the contract's paths itself."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path.strip("/") or parts.query:
        raise BadTargetUrl(f"target URL must look like http://host:port, without a path: {url!r}")
    return f"{parts.scheme}://{parts.netloc}"


def _wire(scoring: ScoringSettings, model: ServiceSettings, redis: RedisSettings) -> ScoringSettings:
    """Point a scoring handler at its model API and at the feature store, unless set explicitly."""
    runner = model.runner()
    wiring = {
        "model_url": model.base_url,
        "model_path": runner.path(model),
        "model_protocol": runner.protocol,
        "redis_url": redis.effective_url,
        "key_prefix": redis.key_prefix,
        "default_entity_id": redis.default_entity_id,
        "entity_features": redis.features_per_entity,
    }
    update = {k: v for k, v in wiring.items() if k not in scoring.model_fields_set}
    return scoring.model_copy(update=update)


def _wire_queue(model: ModelApiSettings, redis: RedisSettings) -> ModelApiSettings:
    """The job queue lives in the feature store's Redis, unless set explicitly."""
    if "queue_url" in model.model_fields_set:
        return model
    return model.model_copy(update={"queue_url": redis.effective_url})


MODEL_SETTINGS = {cls.chain: cls for cls in (ModelSyncSettings, ModelAsyncSettings)}
SCORING_SETTINGS = {cls.chain: cls for cls in (ScoringSyncSettings, ScoringAsyncSettings)}


def build_stack(overrides: dict[str, dict[str, Any]] | None = None) -> Stack:
    """The stack from environment variables, with ``overrides`` (per service name) on top."""
    o = overrides or {}
    redis = RedisSettings(**o.get("redis", {}))
    services, proxies = [], []
    for chain in CHAINS:  # each chain's settings classes say which chain they are (their env prefix)
        model = _wire_queue(MODEL_SETTINGS[chain](**o.get(f"model-{chain}", {})), redis)
        scoring = _wire(SCORING_SETTINGS[chain](**o.get(f"scoring-{chain}", {})), model, redis)
        services += [
            Service(f"model-{chain}", "model", chain, model),
            Service(f"scoring-{chain}", "scoring", chain, scoring),
        ]
        if scoring.proxy == "nginx":
            upstream = f"127.0.0.1:{scoring.bind_port()}"
            proxies.append(Proxy(chain, scoring.host, scoring.port, upstream, ProxySettings(**o.get("proxy", {}))))
    return Stack(redis=redis, services=tuple(services), proxies=tuple(proxies))
