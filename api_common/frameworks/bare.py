"""No framework: the floor, the same steps in a bare WSGI or ASGI app (``api_common/bare.py``)."""

from api_common.frameworks import Framework

FRAMEWORK = Framework(
    "bare",
    {(tier, kind): f"api_{tier}.bare_{kind}:create_app" for tier in ("model", "scoring") for kind in ("wsgi", "asgi")},
)
