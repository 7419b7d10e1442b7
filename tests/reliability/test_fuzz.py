"""Fuzz every predict endpoint of a real stack: no 5xx, every error a JSON body with a message.

At least 1,000 generated requests per endpoint (hypothesis): wrong types, nested arrays, huge
numbers, NaN and Infinity written as text, strings, nulls, empty and huge bodies, wrong content
types, invalid UTF-8, wrong methods. The figures go to the reliability record for the README.
"""

from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability.record import record

pytestmark = pytest.mark.integration

EXAMPLES = 1000
ENDPOINTS = ["model-sync", "scoring-sync", "model-async", "scoring-async"]

numbers = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([1e308, -1e308, 5e-324, 0.0, -0.0]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=20))
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=6), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=30,
)
feature_lists = st.lists(numbers, min_size=0, max_size=1200)
entity_objects = st.fixed_dictionaries(
    {"entity_id": st.one_of(st.text(max_size=140), st.integers(), st.none())},
    optional={"features": st.one_of(feature_lists, json_values), "extra": json_values},
)


def _encode(value) -> bytes:
    return json.dumps(value).encode()


raw_bodies = st.one_of(
    st.builds(_encode, json_values),
    st.builds(_encode, feature_lists),
    st.builds(_encode, entity_objects),
    st.binary(max_size=200),  # mostly invalid UTF-8 or invalid JSON
    st.sampled_from([
        b"", b" ", b"[NaN]", b"[Infinity, -Infinity]", b"[1e999]", b"[" * 5000 + b"]" * 5000, b"[1,]", b"{",
        b'{"entity_id": "0", "features": [NaN]}', b"\xff\xfe\xfd", b"[" + b"1," * 40000 + b"1]", b"null", b"[null]",
        b"9" * 5000, b'"' + b"a" * 70000 + b'"',
    ]),
)  # fmt: skip
content_types = st.sampled_from(
    ["application/json"] * 6
    + ["text/plain", "application/x-www-form-urlencoded", "", "application/json; charset=latin-1"]
    + ["application/vnd.api+json", "multipart/form-data; boundary=x"]
)
methods = st.sampled_from(["POST"] * 12 + ["GET", "PUT", "DELETE", "PATCH"])


@pytest.fixture(scope="module")
def client():
    with httpx.Client(timeout=10.0) as c:
        yield c


@pytest.mark.parametrize("name", ENDPOINTS)
def test_fuzzed_requests_never_get_a_5xx(fuzz_stack, client, name):
    kind, fuzz_stack = fuzz_stack
    svc = fuzz_stack.service(name)
    seen = {"cases": 0, "5xx": 0, "statuses": {}}

    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
    @given(method=methods, body=raw_bodies, ctype=content_types)
    def case(method, body, ctype):
        headers = {"Content-Type": ctype} if ctype else {}
        resp = client.request(method, svc.predict_url, content=body, headers=headers)
        seen["cases"] += 1
        seen["statuses"][resp.status_code] = seen["statuses"].get(resp.status_code, 0) + 1
        if resp.status_code >= 500:
            seen["5xx"] += 1
        assert resp.status_code < 500, (method, ctype, body[:200], resp.text[:300])
        payload = resp.json()
        if resp.status_code != 200:
            assert (
                isinstance(payload.get("error"), str) and isinstance(payload.get("message"), str) and payload["message"]
            )
        else:
            assert isinstance(payload["detail"], float)

    case()  # fmt: skip
    assert seen["cases"] >= EXAMPLES
    for other in fuzz_stack.services:
        assert client.get(other.health_url).json() == {"status": "OK"}
    key = f"fuzz.{name}" if kind == "default" else f"fuzz.{kind}.{name}"
    record(key, {"cases": seen["cases"], "5xx": seen["5xx"], "statuses": seen["statuses"]})
