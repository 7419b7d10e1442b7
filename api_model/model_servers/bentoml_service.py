"""BentoML as the model tier: a service whose API is batchable, BentoML's adaptive batching.

``bentoml serve api_model.model_servers.bentoml_service:Scorer`` (the ``bentoml`` server module starts it):
``workers`` worker processes; concurrent requests merged into batches of at most ``max_batch_size`` items,
within BentoML's ``max_latency_ms`` (a batch that cannot meet it is answered 503: the lab sets it to the
scoring handler's model timeout). A batchable API takes and answers lists, so one prediction is a body
``{"items": [{"features": [...], "model": NAME}]}`` answered by a list of one (the ``bentoml`` protocol), on
the lab's predict path. Usage tracking is off (``BENTOML_DO_NOT_TRACK``); nothing is fetched.
"""

from __future__ import annotations

import os
from typing import Annotated

import bentoml
from pydantic import BaseModel, Field, FiniteFloat

from api_common.contract import predict_path
from api_model.model_servers import Batches, Item, load_settings
from api_model.schemas import MAX_FEATURES, MODEL_NAME_PATTERN

os.environ.setdefault("BENTOML_DO_NOT_TRACK", "True")
SETTINGS = load_settings()
MAX_LATENCY_MS = 1000  # the scoring handler's model timeout (ScoringSettings.model_timeout_s)


class Request(BaseModel):
    features: Annotated[list[FiniteFloat], Field(min_length=1, max_length=MAX_FEATURES)]
    model: Annotated[str, Field(pattern=MODEL_NAME_PATTERN)] = SETTINGS.default_model


class Prediction(BaseModel):
    detail: float
    model: str
    latency_ms: float


@bentoml.service(workers=SETTINGS.worker_count(), traffic={"timeout": 10})
class Scorer:
    def __init__(self) -> None:
        self.batches = Batches(SETTINGS)

    @bentoml.api(route=predict_path(SETTINGS.chain), batchable=True, max_batch_size=SETTINGS.max_batch_size,
                 max_latency_ms=MAX_LATENCY_MS)  # fmt: skip
    def predict(self, items: list[Request]) -> list[Prediction]:
        answers = self.batches.answer([Item(r.features, r.model) for r in items])
        return [Prediction(**a) for a in answers]
