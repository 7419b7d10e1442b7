"""What a prediction does, independent of the framework: the twins only wait differently."""

from __future__ import annotations

from dataclasses import dataclass

from api_model.model import draw_latency_ms, score
from api_model.schemas import Prediction, check_model_name
from api_model.settings import ModelApiSettings


@dataclass(frozen=True)
class Job:
    model: str
    features: list[float]
    latency_ms: float

    def result(self) -> dict:
        return Prediction(
            detail=score(self.model, self.features), model=self.model, latency_ms=self.latency_ms
        ).model_dump()


def plan(settings: ModelApiSettings, features: list[float], model: str | None) -> Job:
    """Validate the model name and draw the latency the model will simulate."""
    name = check_model_name(model if model is not None else settings.default_model)
    return Job(name, features, draw_latency_ms(settings.latency_min_ms, settings.latency_max_ms))
