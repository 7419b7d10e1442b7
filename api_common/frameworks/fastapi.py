"""FastAPI, the async chain's framework: ASGI apps beside the services (``api_*/fastapi_app.py``)."""

from api_common.frameworks import Framework

FRAMEWORK = Framework.per_tier("fastapi", "fastapi_app", ("asgi",))
