import pytest

from api_common.errors import ApiError
from api_scoring import service
from api_scoring.schemas import EntityRequest
from api_scoring.settings import ScoringSyncSettings
from feature_store.entities import encode

SETTINGS = ScoringSyncSettings(key_prefix="f:", default_entity_id="42")


def test_plan_uses_the_default_entity_for_the_array_form():
    p = service.plan(SETTINGS, [1.0, 2.0])
    assert (p.entity_id, p.redis_key, p.features) == ("42", "f:42", [1.0, 2.0])


def test_plan_uses_the_named_entity_for_the_object_form():
    p = service.plan(SETTINGS, EntityRequest(entity_id="7", features=[3.0]))
    assert (p.entity_id, p.redis_key, p.features) == ("7", "f:7", [3.0])


def test_join_puts_stored_features_first():
    p = service.plan(SETTINGS, [9.0])
    assert service.join(p, encode([1.0, 2.0])) == [1.0, 2.0, 9.0]


def test_join_of_a_missing_entity_is_404():
    with pytest.raises(ApiError) as err:
        service.join(service.plan(SETTINGS, [1.0]), None)
    assert err.value.status == 404


@pytest.mark.parametrize(
    ("status", "body"), [(500, {"detail": 1}), (200, {"x": 1}), (200, None), (200, {"detail": "a"})]
)
def test_a_model_answer_that_is_not_a_prediction_is_502(status, body):
    with pytest.raises(ApiError) as err:
        service.model_score(status, body)
    assert err.value.status == 502


@pytest.mark.parametrize(
    ("status", "body"), [(503, {"error": "overloaded"}), (503, "process is overloaded"), (429, None)]
)
def test_a_model_tier_that_refuses_by_overload_is_passed_on_as_503(status, body):
    # The lab's own model API says so in its error shape; BentoML answers a batch that cannot meet its
    # max_latency_ms with a 503 of its own: both are "retry later", not a broken model tier.
    with pytest.raises(ApiError) as err:
        service.model_score(status, body)
    assert err.value.status == 503 and err.value.code == "overloaded" and "Retry-After" in err.value.headers


def test_aggregate_is_the_mean():
    assert service.aggregate("1", [0.2, 0.4]) == {
        "detail": pytest.approx(0.3),
        "predictions": [0.2, 0.4],
        "entity_id": "1",
    }


def test_model_names_follow_n_models():
    assert service.model_names(ScoringSyncSettings(n_models=3)) == ["model-1", "model-2", "model-3"]
