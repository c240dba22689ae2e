import logging
import time
from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

from shared.api.request_ids import safe_request_id

current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)
request_logger = logging.getLogger("jobs.request")


class RequestIdFilter(logging.Filter):
    """Adds the id of the request being served to every log record (None outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get()
        return True


class RequestLogMiddleware:
    """Gives every request an id (the gateway's when it sent one), echoes it in
    X-Request-ID, and writes one structured log line per request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        request_id = safe_request_id(request.headers.get("X-Request-ID", ""))
        request.request_id = request_id  # type: ignore[attr-defined]
        token = current_request_id.set(request_id)
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            request_logger.info(
                "request",
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    # What a service adds about how it answered (the query service: where
                    # it read from).
                    **getattr(request, "log_fields", {}),
                },
            )
            return response
        finally:
            current_request_id.reset(token)


class NoTypeWithoutBodyMiddleware:
    """An answer without a body names no Content-Type: Django's default (text/html) on the
    empty answer to a CORS preflight read as an HTML page. Listed outside CorsMiddleware,
    which answers preflights itself."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code in (200, 204) and not response.streaming and not response.content:
            del response["Content-Type"]
        return response
