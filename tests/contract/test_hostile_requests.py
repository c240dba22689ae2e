"""Hostile requests, round two (issue 11), through the gateway: each class a probe found,
then the rule it broke, over every path and method: no 5xx and no HTML for any request a
client can send, no cookie, no link or redirect to a host taken from the request, and
nothing written by a refused request."""

from __future__ import annotations

import dataclasses
import gzip
import http.server
import json
import socket
import threading
import time

import httpx
import pytest

from stack.processes import Gateway
from tests.contract.helpers import create_job, written
from tests.contract.raw_http import request_bytes, send

PROBLEM = "application/problem+json"
JSON = "application/json"
NOT_UTF8 = ["rot13", "base64", "zlib", "hex", "bz2", "klingon", "utf-16", "latin-1"]


@pytest.fixture
def job(api) -> dict:
    return create_job(api, "hostile")


# --- 1. A charset that is not a text encoding ------------------------------------------


@pytest.mark.parametrize("charset", NOT_UTF8)
def test_a_body_in_a_charset_other_than_utf8_is_a_415_problem(api, job, unchanged, charset):
    headers = {"Content-Type": f"application/json; charset={charset}"}
    created = api.post("/api/jobs/", content=b'{"name": "x"}', headers=headers)
    appended = api.patch(
        f"/api/jobs/{job['id']}/", content=b'{"status_type": "RUNNING"}', headers=headers
    )
    for response in (created, appended):
        assert response.status_code == 415, response.text
        assert "UTF-8" in response.json()["detail"]


@pytest.mark.parametrize("charset", NOT_UTF8)
@pytest.mark.parametrize(
    "path",
    [
        "/api/jobs/?limit=1",
        "/api/jobs/summary/?x=1",
        "/api/jobs/{id}/?x=1",
        "/api/jobs/{id}/statuses/?limit=1",
        "/api/schema/?x=1",
    ],
)
def test_a_charset_never_breaks_the_query_string_of_a_read(api, charset, path):
    job = create_job(api, "charset-read")
    target = path.format(id=job["id"])
    for method in ("GET", "HEAD"):
        response = api.request(
            method, target, headers={"Content-Type": f"application/json; charset={charset}"}
        )
        # A read has no body, so its Content-Type says nothing: answered as without it.
        plain = api.request(method, target)
        # (The api client checks any 4xx is a problem; a 5xx fails here.)
        assert response.status_code == plain.status_code < 500, (method, response.text)


def test_a_delete_with_a_query_string_and_an_odd_charset_is_a_problem(api, admin_db):
    job = create_job(api, "charset-delete")
    response = api.delete(
        f"/api/jobs/{job['id']}/?x=1", headers={"Content-Type": "application/json; charset=rot13"}
    )
    assert response.status_code == 400
    assert api.get(f"/api/jobs/{job['id']}/").status_code == 200


# --- 2. Lone surrogates ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"name": "\\ud800"}', "name"),
        (b'{"name": "x", "\\ud800": 1}', "\\ud800"),
    ],
)
def test_a_lone_surrogate_in_a_create_is_a_400_naming_the_field(api, unchanged, body, field):
    response = api.post("/api/jobs/", content=body, headers={"Content-Type": JSON})
    assert response.status_code == 400
    assert field in response.json()["errors"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"status_type": "\\ud800"}', "status_type"),
        (b'{"status_type": "RUNNING", "name": "\\udfff"}', "name"),
        (b'{"status_type": "RUNNING", "\\ud800": 1}', "\\ud800"),
    ],
)
def test_a_lone_surrogate_in_an_append_is_a_400_naming_the_field(api, admin_db, body, field):
    job = create_job(api, "surrogates")
    before = written(admin_db)
    response = api.patch(f"/api/jobs/{job['id']}/", content=body, headers={"Content-Type": JSON})
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert written(admin_db) == before


# --- 3. Errors speak of the API only -------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"name": ' + b"9" * 5000 + b"}",
        b'{"name": "x", "n": -' + b"1" * 4400 + b"}",
        b'{"name": 1e99999}',
        b'{"name": "x"',
        b"[" * 5000,
    ],
)
def test_an_error_about_a_body_names_no_python_internals(api, unchanged, body):
    response = api.post("/api/jobs/", content=body, headers={"Content-Type": JSON})
    assert response.status_code == 400
    detail = response.json()["detail"]
    for internal in ("sys.", "set_int_max_str_digits", "Traceback", "Python", ".py"):
        assert internal not in detail, detail


# --- 4. Content codings --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("coding", "body"),
    [
        ("gzip", b'{"name": "labelled gzip"}'),
        ("gzip", gzip.compress(b'{"name": "real gzip"}')),
        ("deflate", b'{"name": "x"}'),
        ("br", b'{"name": "x"}'),
        ("gzip, chunked", b'{"name": "x"}'),
    ],
)
def test_a_body_with_a_content_coding_is_a_415_problem(api, unchanged, coding, body):
    response = api.post(
        "/api/jobs/", content=body, headers={"Content-Type": JSON, "Content-Encoding": coding}
    )
    assert response.status_code == 415
    assert response.headers["Accept-Encoding"] == "identity"
    assert "Content-Encoding" in response.json()["detail"]


def test_a_content_coded_append_changes_nothing(api, admin_db):
    job = create_job(api, "coded")
    before = written(admin_db)
    response = api.patch(
        f"/api/jobs/{job['id']}/",
        content=gzip.compress(b'{"status_type": "RUNNING"}'),
        headers={"Content-Type": JSON, "Content-Encoding": "gzip"},
    )
    assert response.status_code == 415
    assert written(admin_db) == before


# --- 5. No format override -----------------------------------------------------------------


@pytest.mark.parametrize("value", ["xml", "api", "yaml", "openapi", "json"])
@pytest.mark.parametrize(
    "path", ["/api/jobs/", "/api/jobs/summary/", "/api/jobs/{id}/", "/api/jobs/{id}/statuses/"]
)
def test_format_is_an_unknown_parameter_of_every_read(api, value, path):
    job = create_job(api, "formats")
    response = api.get(path.format(id=job["id"]), params={"format": value})
    assert response.status_code == 400
    assert response.json()["errors"] == {"format": ["Unknown query parameter."]}


@pytest.mark.parametrize("value", ["xml", "api", "json"])
def test_a_write_with_format_is_refused_and_does_nothing(api, admin_db, value):
    job = create_job(api, "format-write")
    before = written(admin_db)
    target = f"/api/jobs/{job['id']}/?format={value}"
    responses = [
        api.delete(target),
        api.patch(target, json={"status_type": "FAILED"}),
        api.post(f"/api/jobs/?format={value}", json={"name": "not written"}),
    ]
    assert [r.status_code for r in responses] == [400, 400, 400]
    assert written(admin_db) == before
    assert api.get(f"/api/jobs/{job['id']}/").json()["current_status_type"] == "PENDING"


# --- 6. Trailing slashes: no redirect, least of all to the client's host ---------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/jobs",
        "/api/jobs/summary",
        "/api/jobs/1",
        "/api/jobs/1/statuses",
        "/api/schema",
        "/api/docs",
    ],
)
@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PATCH", "DELETE", "OPTIONS"])
def test_a_path_without_its_slash_is_a_404_naming_the_path_with_it(raw_api, contract, path, method):
    response = raw_api.request(
        method, path, headers={"Host": "evil.com", "Content-Type": JSON}, content=b"{}"
    )
    assert response.status_code == 404
    assert "Location" not in response.headers
    if method != "HEAD":
        contract.check_problem(response)
        assert f"Did you mean {path}/" in response.json()["detail"]


# --- 7. Links name the gateway's public address only ------------------------------------------


def test_links_of_a_request_without_host_name_the_gateway_not_a_service(system, api):
    for n in range(2):
        create_job(api, f"links-{n}")
    response = send(
        system.config.gateway_port,
        request_bytes("GET", "/api/jobs/?limit=1", version="HTTP/1.0", host=None),
    )
    assert response.status == 200
    assert response.json()["next"].startswith(f"{system.config.gateway_url}/api/jobs/?")


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Forwarded-Proto": "https"},
        {"X-Forwarded-Host": "evil.com"},
        {"X-Forwarded-Host": "evil.com", "X-Forwarded-Proto": "https", "X-Forwarded-Port": "1"},
        {"Forwarded": "for=1.2.3.4;host=evil.com;proto=https"},
        {"X-Forwarded-For": "1.2.3.4", "X-Real-IP": "1.2.3.4"},
        {"Host": "localhost:9999"},
    ],
)
@pytest.mark.parametrize("mode", ["", "&pagination=cursor"])
def test_no_client_header_steers_a_link(system, api, headers, mode):
    for n in range(2):
        create_job(api, f"steer-{n}")
    page = api.get(f"/api/jobs/?limit=1{mode}", headers=headers).json()
    following = api.get(page["next"]).json()
    for link in (page["next"], following["previous"]):
        assert link.startswith(f"{system.config.gateway_url}/api/jobs/?"), link


def test_a_created_jobs_location_is_a_path_whatever_the_host(api):
    response = api.post(
        "/api/jobs/",
        json={"name": "located"},
        headers={"X-Forwarded-Host": "evil.com", "X-Forwarded-Proto": "https"},
    )
    assert response.headers["Location"] == f"/api/jobs/{response.json()['id']}/"


# --- 9. No cookies ----------------------------------------------------------------------------


@pytest.mark.parametrize("cookie", ["csrftoken=def", "", "%00", "csrftoken=" + "a" * 64, "a=b"])
@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/jobs/"), ("POST", "/api/jobs/"), ("GET", "/api/jobs/987654321/")],
)
def test_the_api_sets_no_cookie(raw_api, cookie, method, path):
    body = {"name": "cookie"} if method == "POST" else None
    response = raw_api.request(method, path, json=body, headers={"Cookie": cookie})
    assert response.status_code < 500
    assert "Set-Cookie" not in response.headers
    assert "cookie" not in response.headers.get("Vary", "").lower()


# --- The rule behind them all, over every path and method -------------------------------------

HOSTILE_HEADERS = {
    "charset rot13": {"Content-Type": "application/json; charset=rot13"},
    "charset zlib": {"Content-Type": "application/json; charset=zlib"},
    "content coding": {"Content-Type": JSON, "Content-Encoding": "gzip"},
    "malformed cookie": {"Content-Type": JSON, "Cookie": "csrftoken=def; %00"},
    "forwarded https": {
        "Content-Type": JSON,
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "evil.com",
        "Forwarded": "host=evil.com",
    },
    "foreign host": {"Content-Type": JSON, "Host": "evil.com"},
    "html wanted": {"Content-Type": JSON, "Accept": "text/html"},
}
PATHS = [
    "/api/jobs/",
    "/api/jobs/summary/",
    "/api/jobs/{id}/",
    "/api/jobs/{id}/statuses/",
    "/api/schema/",
    "/api/docs/",
    "/",
    "/assets/app.js",
    "/nothing/",
]
METHODS = ["GET", "HEAD", "POST", "PATCH", "DELETE", "PUT", "OPTIONS"]
# The pages made for people, as a 200 or 304 to a read, are the only HTML.
HTML_PAGES = {"/", "/api/docs/"}


def assert_fit_for_a_client(response, path: str) -> None:
    content_type = response.headers.get("Content-Type", "")
    assert response.status_code < 500, (response.request.method, path, response.text)
    if response.status_code >= 400:
        assert content_type == PROBLEM, (response.request.method, path, response.text)
        if response.request.method != "HEAD":
            problem = response.json()
            assert problem["status"] == response.status_code
    elif "html" in content_type:
        assert path in HTML_PAGES and response.request.method in ("GET", "HEAD"), path
    assert "Set-Cookie" not in response.headers
    assert "evil.com" not in response.headers.get("Location", "")
    assert b"evil.com" not in response.content


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("method", METHODS)
def test_no_hostile_header_gets_a_5xx_html_a_cookie_or_a_write(
    raw_api, api, admin_db, path, method
):
    for name, headers in HOSTILE_HEADERS.items():
        job = create_job(api, "matrix")
        target = path.format(id=job["id"]) + "?x=1"
        body = json.dumps({"name": "m", "status_type": "RUNNING"}).encode()
        before = written(admin_db)
        response = raw_api.request(method, target, headers=headers, content=body)
        assert_fit_for_a_client(response, path)
        if response.status_code >= 400:
            assert written(admin_db) == before, (name, method, target)


# --- 8. The layers in front of the services answer in problem+json too ------------------------


def raw(system, request: bytes):
    return send(system.config.gateway_port, request)


def assert_problem(response, status: int) -> dict:
    assert response.status == status, (response.status, response.body[:300])
    assert response.header("Content-Type") == PROBLEM, response.body[:300]
    problem = response.json()
    assert problem["status"] == status
    assert problem["type"].startswith("https://jobs.example/problems/")
    assert problem["request_id"] == response.header("X-Request-ID")
    return problem


@pytest.mark.parametrize("version", ["HTTP/2.0", "HTTP/2", "HTTP/3.0", "HTTP/9.9", "HTTP/1000.0"])
def test_an_http_version_nginx_does_not_speak_is_a_400_problem(system, version):
    # nginx's own answer is a 505, in HTML; a client's error is a 4xx here.
    response = raw(system, request_bytes("GET", "/api/jobs/", version=version))
    problem = assert_problem(response, 400)
    assert problem["type"].endswith("/http-version-not-supported")


@pytest.mark.parametrize(
    "coding", ["gzip, chunked", "identity", "xchunked", "chunked, gzip", "chunked, chunked"]
)
def test_a_transfer_encoding_other_than_chunked_is_a_400_problem(system, coding, admin_db):
    # nginx's own answer is a 501, in HTML.
    before = written(admin_db)
    body = b'{"name": "x"}'
    chunked = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    response = raw(
        system,
        request_bytes(
            "POST",
            "/api/jobs/",
            headers=[("Content-Type", JSON), ("Transfer-Encoding", coding)],
            body=chunked,
        ),
    )
    problem = assert_problem(response, 400)
    assert problem["type"].endswith("/transfer-coding-not-supported")
    assert written(admin_db) == before


@pytest.mark.parametrize(
    "request_line",
    [
        b"GET /nothing\r\n",
        b"GET /nothing \r\n",
        b"GET /_problems/414\r\n",
        b"POST /api/jobs/\r\n",
        b"GET /api/\njobs/ HTTP/1.1\r\n",
    ],
)
def test_an_http09_request_is_closed_without_an_answer(system, request_line):
    # HTTP/0.9 answers have no status line or headers: no problem could be told apart.
    with socket.create_connection(("127.0.0.1", system.config.gateway_port), timeout=5) as sock:
        sock.sendall(request_line + b"Host: 127.0.0.1\r\n\r\n")
        assert sock.recv(65536) == b""


@pytest.mark.parametrize(
    "path",
    [
        "/api/jobs/%2e%2e/%2e%2e/",
        "/x/%2e%2e/",
        "/assets/%2E%2E/",
        "/api/..%2F",
        "/api/jobs/.%2E/.%2E/",
        "/api/jobs/..%2F..%2Fassets%2Fapp.js",
        "/api/schema/..%2f..%2f?x=1",
    ],
)
def test_a_path_hiding_a_dot_or_slash_in_percent_encoding_is_a_404(system, path):
    for method in ("GET", "HEAD"):
        response = raw(system, request_bytes(method, path))
        assert response.status == 404, (method, path)
        assert response.header("Content-Type") == PROBLEM


def test_trace_is_a_405_problem(system):
    assert_problem(raw(system, request_bytes("TRACE", "/api/jobs/")), 405)


@pytest.mark.parametrize(
    "header", [("If-Match", '"nope"'), ("If-Unmodified-Since", "Mon, 01 Jan 1990 00:00:00 GMT")]
)
@pytest.mark.parametrize("path", ["/", "/assets/app.js"])
def test_a_failed_precondition_on_a_dashboard_file_is_a_412_problem(system, header, path):
    assert_problem(raw(system, request_bytes("GET", path, headers=[header])), 412)


@pytest.mark.parametrize(
    "range_", ["bytes=99999999-", "bytes=5-1", "bytes=0-10", "bytes=-5", "bytes=0-1,5-6"]
)
@pytest.mark.parametrize("path", ["/", "/assets/app.js"])
def test_a_range_on_a_dashboard_file_is_ignored_and_the_whole_file_sent(system, range_, path):
    # A Range got a 206 slice of the HTML page, or a 416 with its headers twice.
    whole = raw(system, request_bytes("GET", path))
    response = raw(system, request_bytes("GET", path, headers=[("Range", range_)]))
    assert (response.status, response.body) == (200, whole.body)
    assert response.header("Content-Range") is None
    assert [name for name, _ in response.headers].count("X-Request-ID") == 1


@pytest.mark.parametrize("accept", ["application/json", "application/xml", "text/plain", ""])
def test_the_docs_page_is_html_whatever_the_accept_header(api, accept):
    response = api.get("/api/docs/", headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("accept", ["application/vnd.oai.openapi", "application/xml", "*/*"])
def test_the_description_is_served_whatever_the_accept_header(api, accept):
    response = api.get("/api/schema/", headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/vnd.oai.openapi")


@pytest.mark.parametrize(
    "path", ["/api/jobs/", "/api/jobs/summary/", "/api/jobs/1/", "/api/jobs/1/statuses/"]
)
def test_a_cors_preflight_answer_is_not_an_html_page(raw_api, path):
    response = raw_api.options(
        path, headers={"Origin": "http://evil.test", "Access-Control-Request-Method": "POST"}
    )
    assert response.status_code == 200
    assert response.content == b""
    assert "html" not in response.headers.get("Content-Type", "")


@pytest.mark.parametrize(
    ("content_type", "body"),
    [("application/json; charset=latin1", b"{}"), ("text/plain", b"garbage"), (JSON, b"{}")],
)
def test_a_body_on_get_or_delete_is_a_400_and_deletes_nothing(api, job, content_type, body):
    target = f"/api/jobs/{job['id']}/"
    for method, path in [("DELETE", target), ("GET", target), ("GET", "/api/jobs/summary/")]:
        response = api.request(method, path, content=body, headers={"Content-Type": content_type})
        assert response.status_code == 400, (method, path, response.text)
        assert response.json()["detail"] == "This operation takes no request body."
    assert api.get(target).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        [(f"X-H{n}", "v") for n in range(120)],
        [("Cookie", f"c{n}=v") for n in range(100)],
        [(f"X-H{n}", "v") for n in range(1200)],
    ],
    ids=["120 headers", "100 cookie lines", "1200 headers"],
)
@pytest.mark.parametrize(("method", "path"), [("GET", "/api/jobs/"), ("POST", "/api/jobs/")])
def test_many_header_lines_never_meet_gunicorns_html_431(system, headers, method, path):
    # nginx's own limits come first (a 431 problem), or the request is served: gunicorn
    # allows more header lines than nginx can pass on.
    response = raw(
        system,
        request_bytes(method, path, headers=[("Content-Type", JSON), *headers], body=b"{}"),
    )
    if response.status >= 400:
        assert response.header("Content-Type") == PROBLEM, response.body[:200]
        assert response.status in (400, 431)
    assert b"gunicorn" not in response.body.lower()


@pytest.mark.parametrize(
    "header",
    [("X-Forwarded-Ssl", "on"), ("X-Forwarded-Protocol", "ssl"), ("X-Forwarded-Proto", "https")],
)
def test_scheme_headers_a_client_sends_never_contradict_the_gateways(system, header):
    # gunicorn answered X-Forwarded-Ssl: on beside the gateway's X-Forwarded-Proto: http
    # with its HTML 400 "Contradictory scheme headers".
    response = raw(system, request_bytes("GET", "/api/jobs/?limit=1", headers=[header]))
    assert response.status == 200, response.body[:200]
    assert response.json()["results"] is not None


def test_a_head_between_gets_leaves_the_upstream_connection_clean(system):
    # gunicorn sent a HEAD response's body; nginx then read it as the head of the next
    # response on the same upstream connection, and that request hung until its timeout.
    with httpx.Client(base_url=system.config.gateway_url, timeout=3) as client:
        for _ in range(30):
            for method in ("HEAD", "GET", "HEAD", "HEAD", "GET"):
                assert client.request(method, "/api/jobs/?limit=1").status_code == 200


# --- 7 and 9, seen from behind the gateway: what a service receives -------------------------


@pytest.fixture
def recording_upstream():
    """An HTTP server standing in for the query service: records each request's headers
    and answers 200 with a Set-Cookie, to see what the gateway passes each way."""
    received: list[dict[str, str]] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            received.append({name.lower(): value for name, value in self.headers.items()})
            body = b"{}"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Set-Cookie", "session=stolen; Path=/")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], received
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture
def gateway_to_recorder(system, tmp_path, recording_upstream):
    port, received = recording_upstream
    config = dataclasses.replace(
        system.config,
        state_dir=tmp_path,
        gateway_port=system.config.gateway_port + 9,
        query_port=port,
    )
    gateway = Gateway(config)
    gateway.start()
    try:
        yield config.gateway_url, received
    finally:
        gateway.stop()


def test_the_gateway_sets_every_forwarding_header_itself_and_passes_no_cookie(
    gateway_to_recorder,
):
    url, received = gateway_to_recorder
    spoofed = {
        "X-Forwarded-For": "1.2.3.4",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "evil.com",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Ssl": "on",
        "X-Forwarded-Protocol": "ssl",
        "Forwarded": "for=1.2.3.4;host=evil.com;proto=https",
        "Cookie": "session=mine",
    }
    received.clear()
    with httpx.Client(base_url=url, timeout=10) as client:
        response = client.get("/api/jobs/", headers=spoofed)
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    (headers,) = received
    port = url.rsplit(":", 1)[1]
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-host"] == "127.0.0.1"
    assert headers["x-forwarded-port"] == port
    assert headers["forwarded"] == 'for="127.0.0.1";proto=http'
    for absent in ("x-forwarded-ssl", "x-forwarded-protocol", "cookie"):
        assert absent not in headers, absent


PARTIAL_REQUESTS = {
    "headers never end": b"GET /api/jobs/ HTTP/1.1\r\nHost: 127.0.0.1\r\n",
    "body never completes": b"POST /api/jobs/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"na',
}


def test_a_request_that_stops_arriving_is_closed_after_10_s_without_a_page(system, admin_db):
    # nginx's 408: it closes the connection and sends nothing (its source sends no
    # answer), so there is no page either; nothing is written. Both at once: one wait.
    before = written(admin_db)
    port = system.config.gateway_port
    sockets = {
        name: socket.create_connection(("127.0.0.1", port), timeout=20) for name in PARTIAL_REQUESTS
    }
    try:
        started = time.monotonic()
        for name, sock in sockets.items():
            sock.sendall(PARTIAL_REQUESTS[name])
        for name, sock in sockets.items():
            assert sock.recv(65536) == b"", name
        waited = time.monotonic() - started
    finally:
        for sock in sockets.values():
            sock.close()
    assert 9 <= waited < 20, waited
    assert written(admin_db) == before
