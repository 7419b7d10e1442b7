"""Flask, the sync chain's framework: WSGI apps beside the services (``api_*/flask_app.py``)."""

from api_common.frameworks import Framework

FRAMEWORK = Framework(
    "flask",
    {("model", "wsgi"): "api_model.flask_app:create_app", ("scoring", "wsgi"): "api_scoring.flask_app:create_app"},
)
