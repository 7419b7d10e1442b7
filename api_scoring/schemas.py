"""Request schema of the scoring handler, used by both twins."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Discriminator, Field, FiniteFloat, Tag, TypeAdapter

from api_model.schemas import MAX_FEATURES, Features


class EntityRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entity_id: Annotated[str, Field(min_length=1, max_length=128)]
    features: Annotated[list[FiniteFloat], Field(max_length=MAX_FEATURES)] = []


def _shape(value: Any) -> str | None:
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return None


ScoringRequest = Annotated[
    Annotated[Features, Tag("array")] | Annotated[EntityRequest, Tag("object")],
    Discriminator(
        _shape,
        custom_error_type="invalid_body",
        custom_error_message='expected a JSON array of numbers or an object with "entity_id"',
    ),
]
SCORING_REQUEST = TypeAdapter(ScoringRequest)
