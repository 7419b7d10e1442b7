"""Starlette's glue: ``/``, the health check and ``/metrics`` beside a tier's routes, inside the same pure ASGI
middlewares as the FastAPI twin (``api_common.fastapi_glue``, which works on Starlette's own request); each tier's
``starlette_app.py`` adds its routes over its service layer. Starlette is the toolkit under FastAPI, without
FastAPI's validation and dependency injection: one compare splits what FastAPI's own layer costs."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api_common.contract import HEALTH_PATH, METRICS_PATH
from api_common.fastapi_glue import install_error_handlers, install_layers, response_class
from api_common.metrics import CONTENT_TYPE, Metrics


def create_app(name: str, settings, routes: list[Route], metrics: Metrics, lifespan=None) -> Starlette:
    """The routes with ``/``, the health check and ``/metrics``, inside the twins' middlewares."""
    render = response_class(settings.json_library)

    async def index(_: Request) -> Response:
        return render({"service": name, "framework": "starlette", "predict": f"POST {routes[0].path}"})

    async def health(_: Request) -> Response:
        return render({"status": "OK"})

    async def expose(_: Request) -> Response:
        return Response(metrics.expose(), media_type=CONTENT_TYPE)

    own = [Route("/", index), Route(HEALTH_PATH, health), Route(METRICS_PATH, expose)]
    app = Starlette(routes=routes + own, lifespan=lifespan)
    install_error_handlers(app)
    install_layers(app, settings, metrics, name)  # as in the twins
    return app
