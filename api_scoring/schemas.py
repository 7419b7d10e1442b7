"""Request schema of the scoring handler, used by both twins."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Discriminator, Field, FiniteFloat, Tag, TypeAdapter, create_model

from api_model.schemas import MAX_FEATURES


class EntityRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entity_id: Annotated[str, Field(min_length=1, max_length=128)]
    features: list[FiniteFloat] = []


def _shape(value: Any) -> str | None:
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return None


@cache
def scoring_request(entity_features: int) -> TypeAdapter:
    """The request body, either form, its own features capped so that they and the ``entity_features`` the
    store holds fit the model's input (``MAX_FEATURES``): a body the schema accepts is never refused for
    its size after the join (the OpenAPI document shows the same cap)."""
    own = MAX_FEATURES - entity_features
    array = Annotated[list[FiniteFloat], Field(min_length=1, max_length=own)]
    capped = (list[FiniteFloat], Field([], max_length=own))
    entity = create_model("EntityRequest", __base__=EntityRequest, features=capped)
    return TypeAdapter(
        Annotated[
            Annotated[array, Tag("array")] | Annotated[entity, Tag("object")],
            Discriminator(
                _shape,
                custom_error_type="invalid_body",
                custom_error_message='expected a JSON array of numbers or an object with "entity_id"',
            ),
        ]
    )
