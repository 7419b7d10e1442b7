"""Flask, the sync chain's framework: WSGI apps beside the services (``api_*/flask_app.py``)."""

from api_common.frameworks import Framework

FRAMEWORK = Framework.per_tier("flask", "flask_app", ("wsgi",))
