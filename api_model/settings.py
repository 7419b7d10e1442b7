"""Settings of the model API services (env prefixes MODEL_SYNC_ and MODEL_ASYNC_)."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator
from pydantic_settings import SettingsConfigDict

from api_common.settings import ServiceSettings


class ModelApiSettings(ServiceSettings):
    default_model: str = "default"
    latency_min_ms: float = 40.0
    latency_max_ms: float = 50.0
    # "io" sleeps for the latency (a remote or accelerator-bound model); "cpu" burns CPU for it.
    kind: Literal["io", "cpu"] = "io"

    @model_validator(mode="after")
    def _latency_range(self) -> ModelApiSettings:
        if not 0 <= self.latency_min_ms <= self.latency_max_ms:
            raise ValueError("need 0 <= latency_min_ms <= latency_max_ms")
        return self


class ModelSyncSettings(ModelApiSettings):
    model_config = SettingsConfigDict(env_prefix="MODEL_SYNC_")
    app_kind = "wsgi"
    port: int = 5000
    server: str = "gunicorn"


class ModelAsyncSettings(ModelApiSettings):
    model_config = SettingsConfigDict(env_prefix="MODEL_ASYNC_")
    app_kind = "asgi"
    port: int = 8000
    server: str = "uvicorn"
