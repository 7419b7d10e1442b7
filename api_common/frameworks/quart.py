"""Quart: Flask's API on ASGI, where a Flask user goes for async, served by uvicorn on the async chain
(``api_*/quart_app.py``, over ``api_common/quart_glue.py``)."""

from api_common.frameworks import Framework

FRAMEWORK = Framework.per_tier("quart", "quart_app", ("asgi",))
