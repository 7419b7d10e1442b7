import math
import random

import pytest

from api_model.model import CLIP, draw_latency_ms, score, weights


def test_score_is_deterministic_and_in_unit_interval():
    rng = random.Random(1)
    for _ in range(200):
        features = [rng.uniform(-100, 100) for _ in range(rng.randint(1, 50))]
        s = score("model-1", features)
        assert 0.0 <= s <= 1.0
        assert score("model-1", features) == s


def test_weights_depend_on_the_model_name():
    assert weights("model-1") != weights("model-2")
    assert score("model-1", [5.1, 3.5, 1.4, 0.2]) != score("model-2", [5.1, 3.5, 1.4, 0.2])


def test_huge_finite_features_are_clipped_not_overflowing():
    s = score("model-1", [1e308, -1e308, 1e308])
    assert math.isfinite(s) and 0.0 <= s <= 1.0
    assert score("model-1", [1e308]) == score("model-1", [CLIP])


def test_known_value_is_stable_across_versions():
    # Pins the model: a change of the weight derivation changes every benchmark's expected answers.
    assert score("default", [5.1, 3.5, 1.4, 0.2]) == pytest.approx(0.3895093151474068, abs=1e-12)


def test_latency_is_drawn_within_range():
    rng = random.Random(0)
    draws = [draw_latency_ms(40, 50, rng) for _ in range(1000)]
    assert min(draws) >= 40 and max(draws) <= 50
    assert max(draws) - min(draws) > 8  # spread over the range, not a constant
