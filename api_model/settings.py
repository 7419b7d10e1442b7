"""Settings of the model API services (env prefixes MODEL_SYNC_ and MODEL_ASYNC_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from api_common.settings import AsyncService, ServiceSettings, SyncService
from api_model import backends


class ModelApiSettings(ServiceSettings):
    tier = "model"
    default_model: str = "default"
    latency_min_ms: float = 40.0
    latency_max_ms: float = 50.0
    # The model backend (a module of api_model/backends, or of LAB_BACKEND_PATH): "io" sleeps for the latency
    # (a remote or accelerator-bound model); "cpu" burns CPU for it; "real" is a scikit-learn classifier of
    # the 8x8 digits (api_model/backends/real.py), as slow as its own computation.
    kind: str = "io"
    # A batch's cost on top of its one draw: "io" waits, "cpu" burns this much per item (a + b.n).
    batch_item_ms: float = 0.5
    # The most items one model call takes: the batch endpoint's cap, and dynamic batching's.
    max_batch_size: int = 64
    # Dynamic batching of single predictions: None is off; else a batch is flushed when it holds
    # max_batch_size items or its first has waited this long (api_model/batching.py).
    max_wait_ms: float | None = None
    model_dir: Path = Path(".lab/models")  # where the real models are cached once trained
    # Threads per worker process for the numeric libraries of the real models (torch, XGBoost): one, as
    # measured on this machine (doc/FINDINGS.md, "Model servers"), and as TorchServe's own CPU advice says.
    model_threads: int = 1
    # A user's own model (api_model/backends/_user.py): the file or ``module:callable`` the kind's loader opens
    # (kind onnx, sklearn, torchscript or python), and one item's input shape where the model does not say it.
    model_path: str = ""
    model_input_shape: list[int] | None = None
    # The job-queue architecture (api_common/jobqueue.py): the Redis holding the tier's job stream (wired
    # to the feature store's by the lab), and how long a job waits, unacknowledged, before another worker
    # claims it from a worker that died (under the scoring handler's 1 s model timeout).
    queue_url: str = "redis://127.0.0.1:6379/0"
    claim_idle_ms: int = 500
    # Which version of the model this tier serves, said in every answer (``version``): a blue/green update runs two
    # tiers side by side (benchmark/bluegreen.py) and a client sees which one answered. Empty: not said.
    version: str = ""

    @field_validator("kind")
    @classmethod
    def _known_backend(cls, name: str) -> str:
        backends.get(name)  # raises with the known names
        return name

    def startup_s(self) -> float:
        """Its server's start and its model's load, whichever is longer."""
        return max(super().startup_s(), self.backend().startup_s)

    def backend(self) -> backends.Backend:
        # The registry keeps each backend once per process: a dict lookup per call. Not cached on the settings:
        # model_copy would carry a cached backend into a copy of another kind.
        return backends.get(self.kind)

    @model_validator(mode="after")
    def _latency_range(self) -> ModelApiSettings:
        if not 0 <= self.latency_min_ms <= self.latency_max_ms:
            raise ValueError("need 0 <= latency_min_ms <= latency_max_ms")
        if self.model_threads < 1:
            raise ValueError("need model_threads >= 1")
        if self.batch_item_ms < 0 or self.max_batch_size < 1 or (self.max_wait_ms is not None and self.max_wait_ms < 0):
            raise ValueError("need batch_item_ms >= 0, max_batch_size >= 1 and max_wait_ms >= 0")
        return self


class ModelSyncSettings(SyncService, ModelApiSettings):
    model_config = SettingsConfigDict(env_prefix="MODEL_SYNC_")
    port: int = 5000


class ModelAsyncSettings(AsyncService, ModelApiSettings):
    model_config = SettingsConfigDict(env_prefix="MODEL_ASYNC_")
    port: int = 8000
