"""No framework: the floor, the same steps in a bare WSGI or ASGI app (``api_*/bare_{wsgi,asgi}.py``)."""

from api_common.frameworks import Framework

FRAMEWORK = Framework.per_tier("bare", "bare_{kind}", ("wsgi", "asgi"))
