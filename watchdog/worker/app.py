"""The worker's ASGI app: ``POST /predict``, ``GET /healthz`` and ``GET /metrics``.

Request and response of /predict::

    {"inputs": [[64 floats], ...]}
    {"predictions": [3, ...], "cached": false, "stale": false}

Errors are ``{"error": message}`` with 400 (malformed), 413 (body too
large), 429 (rate limited) or 503 (queue full, model not loaded, inference
failed), the last two with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from watchdog.worker.inputs import InvalidRequestError
from watchdog.worker.service import Reply, WorkerService

logger = logging.getLogger(__name__)


async def read_body(request: Request, limit: int) -> bytes:
    """Read the request body, raising 413 as soon as it is known to exceed ``limit`` bytes."""
    too_large = f"request body is over the {limit}-byte limit; send fewer samples per request"
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            length = int(declared)
        except ValueError:
            raise InvalidRequestError(f"invalid Content-Length header {declared!r}") from None
        if length > limit:
            raise InvalidRequestError(too_large, status=413)
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise InvalidRequestError(too_large, status=413)
        chunks.append(chunk)
    return b"".join(chunks)


def to_response(reply: Reply) -> JSONResponse:
    """Render a ``Reply`` as a JSON response."""
    return JSONResponse(reply.body, status_code=reply.status, headers=reply.headers)


async def hang_forever() -> None:
    """Never return (the hang fault); uvicorn cancels it at shutdown."""
    await asyncio.Event().wait()


def create_app(service: WorkerService) -> Starlette:
    """Build the Starlette app around ``service``; its lifespan starts and stops the service."""

    async def predict(request: Request) -> Response:
        started = time.perf_counter()
        number, hang = service.note_predict_request()
        if hang:
            await hang_forever()
        client = request.client.host if request.client is not None else "unknown"

        reply = service.admit(client)
        if reply is None:
            try:
                body = await read_body(request, service.settings.max_body_bytes)
                batch = service.parse(body)
            except InvalidRequestError as exc:
                reply = service.reject(client, exc)
            else:
                reply = await service.predict(batch)

        service.metrics.request_duration.observe(time.perf_counter() - started)
        response = to_response(reply)
        if service.faults.should_crash(number):
            # Runs after the response is sent, so the client receives it before the exit.
            response.background = BackgroundTask(service.crash, number)
        return response

    async def healthz(request: Request) -> Response:
        if service.is_hung():
            await hang_forever()
        return to_response(service.health())

    async def metrics(request: Request) -> Response:
        return Response(service.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        service.start()
        try:
            yield
        finally:
            # Uvicorn has already waited for in-flight requests; this ends the idle threads.
            await asyncio.to_thread(service.stop, service.settings.shutdown_timeout.total_seconds())

    return Starlette(
        routes=[
            Route("/predict", predict, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
