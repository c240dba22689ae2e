"""The WSGI application of both services: Django's, with three holes closed.

- Django decodes the query string with the charset of the request's Content-Type, and
  builds the request before any middleware runs: `charset=rot13` (a codec, not a text
  encoding) on any request with a query string crashed inside the WSGI handler, and
  gunicorn answered with its HTML 500. A URL is UTF-8 whatever the body is (RFC 3986);
  the body's charset is checked by the JSON parser (shared/api/parsers.py), with a 415.
- A HEAD response is sent without its body (RFC 9110 9.3.2). Django leaves that to the
  server and gunicorn sends it: nginx then read the stale body as the next response's
  head on the kept-alive upstream connection, and that request hung until its timeout.
- Whatever still escapes Django (it turns errors inside its handler into responses, not
  errors before or after it) is answered with a problem+json 500, never gunicorn's page.
"""

import json
import logging
import sys
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urljoin, urlsplit

import django
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler, WSGIRequest
from django.utils.http import parse_header_parameters

from shared.api.problems import INTERNAL_ERROR_DETAIL, PROBLEM_CONTENT_TYPE, problem_body
from shared.api.request_ids import safe_request_id

logger = logging.getLogger("jobs.wsgi")


class ApiRequest(WSGIRequest):
    def _get_scheme(self) -> str:
        # The scheme clients use, not the gateway's plain HTTP behind their TLS.
        return urlsplit(settings.PUBLIC_BASE_URL).scheme

    def build_absolute_uri(self, location: str | None = None) -> str:
        # Links (DRF's pagination builds them here) and ETags name the gateway's public
        # address, never the Host or X-Forwarded-Host a client sent.
        here = settings.PUBLIC_BASE_URL + self.get_full_path()
        return here if location is None else urljoin(here, location)

    def _set_content_type_params(self, meta: dict[str, Any]) -> None:
        # Django would also set `encoding` from the charset, which then decodes the query
        # string; it stays None here, so DEFAULT_CHARSET (UTF-8) does.
        self.content_type, self.content_params = parse_header_parameters(
            meta.get("CONTENT_TYPE", "")
        )


class ApiWSGIHandler(WSGIHandler):
    request_class = ApiRequest

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:  # type: ignore[override]
        try:
            response = super().__call__(environ, start_response)
            if environ.get("REQUEST_METHOD") == "HEAD":
                # Content-Length stays the GET's, as RFC 9110 allows.
                response.close()  # type: ignore[attr-defined]
                return []
            return response
        except Exception:
            logger.exception("unhandled error outside Django's handler")
            body = problem_body(status_code=500, detail=INTERNAL_ERROR_DETAIL, request=None)
            request_id = safe_request_id(environ.get("HTTP_X_REQUEST_ID", ""))
            body["request_id"] = request_id
            content = json.dumps(body).encode()
            head = environ.get("REQUEST_METHOD") == "HEAD"
            start_response(
                "500 Internal Server Error",
                [
                    ("Content-Type", PROBLEM_CONTENT_TYPE),
                    ("Content-Length", str(len(content))),
                    ("X-Request-ID", request_id),
                ],
                sys.exc_info(),
            )
            return [] if head else [content]


def get_api_wsgi_application() -> ApiWSGIHandler:
    """Django's get_wsgi_application(), with ApiWSGIHandler."""
    django.setup(set_prefix=False)
    return ApiWSGIHandler()
