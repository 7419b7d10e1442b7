"""Starlette: the toolkit under FastAPI, without FastAPI's validation and dependency injection
(``api_*/starlette_app.py``, over ``api_common/starlette_glue.py``)."""

from api_common.frameworks import Framework

FRAMEWORK = Framework.per_tier("starlette", "starlette_app", ("asgi",))
