"""Request and response schemas of the model API, used by both twins."""

from __future__ import annotations

import re
from functools import cache
from typing import Annotated

from pydantic import BaseModel, Field, FiniteFloat, TypeAdapter

from api_common.errors import ApiError

MAX_FEATURES = 1000

Features = Annotated[list[FiniteFloat], Field(min_length=1, max_length=MAX_FEATURES)]
FEATURES = TypeAdapter(Features)
MODEL_NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
_MODEL_NAME = re.compile(MODEL_NAME_PATTERN)


@cache
def batch(max_batch_size: int) -> TypeAdapter:
    """A batch body: 1 to ``max_batch_size`` feature arrays (the schema shows the cap it is checked with)."""
    return TypeAdapter(Annotated[list[Features], Field(min_length=1, max_length=max_batch_size)])


class Prediction(BaseModel):
    detail: float = Field(description="The prediction: a score (a user's classifier: its top class probability).")
    model: str
    latency_ms: float = Field(description="Latency the simulated model waited, in ms.")
    outputs: list[float] | None = Field(
        None, description="A user's model: its own outputs for the item (class probabilities, or values)."
    )
    version: str | None = Field(None, description="The model version this tier serves, when its settings name one.")


def check_batch_size(items: list, cap: int) -> list:
    if len(items) > cap:
        raise ApiError(422, "validation_error", f"batch too large: {len(items)} items, at most {cap}")
    return items


def check_model_name(name: str) -> str:
    """Model names come from a query parameter: keep them short and plain."""
    if not _MODEL_NAME.match(name):
        raise ApiError(422, "validation_error", "model name must match [A-Za-z0-9_.-]{1,64}")
    return name
