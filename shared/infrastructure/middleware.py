import logging
import re
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

# The gateway sets X-Request-ID; a direct caller may too. Anything that is not a short,
# plain token is replaced, so a request id can never inject text into logs or bodies.
REQUEST_ID_CHARACTERS = "A-Za-z0-9._-"
REQUEST_ID_MAX_LENGTH = 128
REQUEST_ID_PATTERN = re.compile(rf"^[{REQUEST_ID_CHARACTERS}]{{1,{REQUEST_ID_MAX_LENGTH}}}$")

current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)
request_logger = logging.getLogger("jobs.request")


def safe_request_id(incoming: str) -> str:
    """The caller's request id when it is a short, plain token; else a new one."""
    return incoming if REQUEST_ID_PATTERN.match(incoming) else uuid.uuid4().hex


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
