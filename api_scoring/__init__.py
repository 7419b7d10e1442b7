"""The scoring handler: reads features from Redis, calls the model API N times, aggregates."""
