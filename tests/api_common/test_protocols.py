"""The protocols a scoring handler speaks to a model tier: requests in each server's shape, answers read back
into the lab's, errors passed through for service.model_score to report."""

from __future__ import annotations

import pytest

from api_common import protocols
from api_common.errors import ApiError
from api_scoring import service


def test_each_protocol_builds_its_servers_request():
    assert protocols.get("lab").request([1.0, 2.0], "m") == ({"model": "m"}, [1.0, 2.0])
    assert protocols.get("json").request([1.0], "m") == ({}, {"features": [1.0], "model": "m"})
    assert protocols.get("bentoml").request([1.0], "m") == ({}, {"items": [{"features": [1.0], "model": "m"}]})
    params, body = protocols.get("kserve").request([1.0, 2.0], "m")
    assert params == {} and body["inputs"][0] == {"name": "features", "shape": [1, 2], "datatype": "FP64",
                                                  "data": [1.0, 2.0]}  # fmt: skip
    assert body["inputs"][1]["data"] == ["m"]


def test_answers_are_read_back_into_the_lab_shape():
    assert protocols.get("bentoml").answer([{"detail": 0.25, "model": "m"}])["detail"] == 0.25
    kserve = {"model_name": "scorer", "outputs": [{"name": "score", "datatype": "FP64", "shape": [1, 1],
                                                   "data": [0.75]}]}  # fmt: skip
    assert service.model_score(200, protocols.get("kserve").answer(kserve)) == 0.75


def test_an_error_passes_through_and_is_reported_in_the_lab_shape():
    error = {"error": "failed to parse the request JSON buffer"}
    assert protocols.get("kserve").answer(error) == error
    with pytest.raises(ApiError) as err:
        service.model_score(500, protocols.get("kserve").answer(error))
    assert (err.value.status, err.value.code) == (502, "model_error")
    with pytest.raises(ApiError):
        service.model_score(200, protocols.get("kserve").answer({"outputs": []}))  # no score: not a prediction


def test_a_profiled_call_asks_only_the_labs_own_model_api_to_profile():
    assert service.model_request(protocols.get("lab"), "m", [1.0], "pyinstrument")[0] == {
        "model": "m", "profile": "pyinstrument"}  # fmt: skip
    assert service.model_request(protocols.get("json"), "m", [1.0], "pyinstrument")[0] == {}


def test_unknown_protocol_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="known: lab, json"):
        protocols.get("grpc")
