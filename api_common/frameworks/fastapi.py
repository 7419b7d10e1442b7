"""FastAPI, the async chain's framework: ASGI apps beside the services (``api_*/fastapi_app.py``)."""

from api_common.frameworks import Framework

FRAMEWORK = Framework(
    "fastapi",
    {("model", "asgi"): "api_model.fastapi_app:create_app", ("scoring", "asgi"): "api_scoring.fastapi_app:create_app"},
)
