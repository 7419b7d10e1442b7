"""TorchServe's handler for the lab's model (the archive that api_model/model_servers/torchserve.py makes).

TorchServe calls ``handle`` with a batch it formed (``batchSize``, ``maxBatchDelay``): one row per request,
its JSON body ``{"features": [...], "model": NAME}``. The valid rows are answered together, in one backend
call per model name; an invalid row gets the lab's 422 alone (``context.set_response_status`` per row).

A row without a body (``GET /predictions/scorer``) is the lab's health check, answered ``{"status": "OK"}``
by a worker: TorchServe's own ``/ping`` says Healthy while its workers are still loading the model (seen
here: 8 s of timeouts after it did), so the lab asks a worker itself.
"""

from __future__ import annotations

import json

from api_common.errors import ApiError
from api_model.model_servers import Batches, item

_batches: Batches | None = None


def _body(row: dict):
    raw = row.get("body", row.get("data"))
    if isinstance(raw, (bytes, bytearray)):
        try:
            return json.loads(raw)
        except ValueError:
            raise ApiError(400, "invalid_json", "request body is not valid JSON") from None
    return raw


def handle(data, context):
    global _batches
    if _batches is None:
        _batches = Batches()  # loads the model once per worker, at its first (initialisation) call
    if not data:
        return None
    answers: list = [None] * len(data)
    valid, items = [], []
    for i, row in enumerate(data):
        if not row.get("body", row.get("data")):
            answers[i] = {"status": "OK"}
            continue
        try:
            items.append(item(_body(row), _batches.settings.default_model))
            valid.append(i)
        except ApiError as err:
            context.set_response_status(err.status, err.code, idx=i)
            answers[i] = err.body()
    if items:
        for i, answer in zip(valid, _batches.answer(items), strict=True):
            answers[i] = answer
    return answers
