import logging
import re
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

# The gateway sets X-Request-ID; a direct caller may too. Anything that is not a short,
# plain token is replaced, so a request id can never inject text into logs or bodies.
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,128}$")

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
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if REQUEST_ID_PATTERN.match(incoming) else uuid.uuid4().hex
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


class HeadWithoutBodyMiddleware:
    """A HEAD answer keeps GET's headers, Content-Length included, and sends no body.

    Django leaves that to the server, and gunicorn sends whatever body it is given. nginx
    expects none after a HEAD and put the upstream connection back in its keepalive pool
    with the body unread: the next request on it read that body as its answer and hung.
    Listed outside CommonMiddleware, which sets Content-Length from the body.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.method == "HEAD" and not response.streaming:
            response.content = b""
        return response
