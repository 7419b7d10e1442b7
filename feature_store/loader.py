"""Write N entities' features into Redis, pipelined and idempotent."""

from __future__ import annotations

import redis

from feature_store.entities import encode, entity_features, key

BATCH = 1000


def load(
    client: redis.Redis, entities: int, prefix: str, features_per_entity: int = 4, only_missing: bool = False
) -> int:
    """Write entities ``0..entities-1`` (same values every time) and return how many were written.

    With ``only_missing``, a key that already exists is left as it is (``SET NX``): a user's own
    Redis keeps its data, and only the entities it lacks are added.
    """
    written = 0
    for start in range(0, entities, BATCH):
        pipe = client.pipeline(transaction=False)
        for i in range(start, min(start + BATCH, entities)):
            eid = str(i)
            pipe.set(key(prefix, eid), encode(entity_features(eid, features_per_entity)), nx=only_missing)
        written += sum(1 for ok in pipe.execute() if ok)
    return written
