"""The WSGI application of both services, called as gunicorn calls it."""

import io
import json
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest

from shared.infrastructure.wsgi import ApiWSGIHandler


@pytest.fixture
def call():
    handler = ApiWSGIHandler()

    def call(method: str, path: str, **headers: str) -> tuple[str, dict[str, str], bytes]:
        path_info, _, query = path.partition("?")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path_info,
            "QUERY_STRING": query,
        }
        environ.update(headers)
        setup_testing_defaults(environ)
        environ["wsgi.input"] = io.BytesIO(b"")
        seen: dict[str, object] = {}

        def start_response(status, response_headers, exc_info=None):
            seen["status"], seen["headers"] = status, dict(response_headers)

        body = b"".join(handler(environ, start_response))
        return seen["status"], seen["headers"], body  # type: ignore[return-value]

    return call


@pytest.mark.parametrize("charset", ["rot13", "base64", "zlib", "hex", "bz2", "klingon"])
def test_a_content_type_charset_does_not_decode_the_query_string(call, charset):
    # Django decoded the query string with the charset: a LookupError before any middleware.
    status, headers, _ = call(
        "GET", "/nothing/?x=%C3%A9", CONTENT_TYPE=f"application/json; charset={charset}"
    )
    assert status.startswith("404")
    assert headers["Content-Type"] == "application/problem+json"


def test_a_head_response_has_the_gets_headers_and_no_body(call):
    get_status, get_headers, get_body = call("GET", "/nothing/")
    head_status, head_headers, head_body = call("HEAD", "/nothing/")
    assert get_body and head_body == b""
    assert head_status == get_status
    assert head_headers["Content-Length"] == get_headers["Content-Length"] == str(len(get_body))


def test_an_error_outside_djangos_handler_is_a_problem_not_a_page(call, monkeypatch):
    def broken(self, environ):
        raise RuntimeError("boom")

    monkeypatch.setattr(ApiWSGIHandler, "request_class", broken)
    status, headers, body = call("GET", "/api/jobs/", HTTP_X_REQUEST_ID="trace-1")
    assert status.startswith("500")
    assert headers["Content-Type"] == "application/problem+json"
    problem = json.loads(body)
    assert (problem["status"], problem["request_id"]) == (500, "trace-1")
    assert "boom" not in body.decode()


def test_a_head_that_fails_outside_djangos_handler_gets_no_body_either(call, monkeypatch):
    def broken(self, environ):
        raise RuntimeError("boom")

    monkeypatch.setattr(ApiWSGIHandler, "request_class", broken)
    status, headers, body = call("HEAD", "/api/jobs/")
    assert status.startswith("500") and headers["Content-Type"] == "application/problem+json"
    assert body == b""


def test_behind_tls_every_request_is_https_whatever_the_gateway_forwards(settings):
    # The gateway always says X-Forwarded-Proto: http (its own scheme); the TLS proxy in
    # front is named by PUBLIC_BASE_URL. A redirect to https here looped forever.
    settings.PUBLIC_BASE_URL = "https://jobs.example.com"
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["jobs.example.com"]
    handler = ApiWSGIHandler()  # its middleware reads the settings now
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/nothing/",
        "QUERY_STRING": "",
        "HTTP_HOST": "jobs.example.com",
        "HTTP_X_FORWARDED_PROTO": "http",
    }
    setup_testing_defaults(environ)
    seen: dict[str, Any] = {}

    def start_response(status, response_headers, exc_info=None):
        seen["status"], seen["headers"] = status, dict(response_headers)

    b"".join(handler(environ, start_response))
    assert seen["status"].startswith("404"), seen
    assert "Strict-Transport-Security" in seen["headers"]
