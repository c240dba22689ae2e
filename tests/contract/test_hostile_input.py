"""The nastiest inputs we could think of, through the gateway: each is a 4xx problem+json,
never a 500 and never a write. Schemathesis (tests/fuzz) covers what we did not think of."""

import json
import re
import socket
import uuid

import pytest

from tests.contract.helpers import create_job, job_count
from tests.contract.raw_http import request_bytes, send

LONG = "a" * 5000


BODIES = {
    "NUL in the name": (b'{"name": "a\\u0000b"}', 400),
    "escape character": (b'{"name": "a\\u001bb"}', 400),
    "DEL": (b'{"name": "a\\u007fb"}', 400),
    "C1 control": (b'{"name": "a\\u0085b"}', 400),
    "lone surrogate": (b'{"name": "\\ud800"}', 400),
    "only whitespace": (b'{"name": " \\u3000\\u00a0 "}', 400),
    "256 characters": (json.dumps({"name": "x" * 256}).encode(), 400),
    "a number": (b'{"name": 1e999}', 400),
    "a huge integer": (b'{"name": ' + b"9" * 5000 + b"}", 400),
    "an object": (b'{"name": {"$ne": null}}', 400),
    "a boolean": (b'{"name": true}', 400),
    "null body": (b"null", 400),
    "an array": (b'[{"name": "x"}]', 400),
    "a string": (b'"name"', 400),
    "duplicate keys": (b'{"name": "a", "name": "b"}', 400),
    "deep nesting": (b'{"name": ' + b"[" * 20_000 + b"]" * 20_000 + b"}", 400),
    "wide nesting under the limit": (b'{"name": "x", "extra": [' + b"[]," * 8000 + b"[]]}", 400),
    "invalid UTF-8": (b'{"name": "\xff\xfe\xfd"}', 400),
    "UTF-16 without saying so": ('{"name": "x"}'.encode("utf-16"), 400),
    "truncated": (b'{"name": "x"', 400),
    "NaN": (b'{"name": NaN}', 400),
    "trailing garbage": (b'{"name": "x"} {}', 400),
    "empty": (b"", 400),
    "over 64 KiB": (json.dumps({"name": "x", "pad": "y" * 70_000}).encode(), 413),
}


@pytest.mark.parametrize("case", list(BODIES))
def test_hostile_create_bodies(api, unchanged, case):
    body, status = BODIES[case]
    response = api.post("/api/jobs/", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text


@pytest.mark.parametrize(
    "content_type",
    [
        "application/xml",
        "multipart/form-data; boundary=x",
        "application/json-patch+json",
        "",
    ],
)
def test_odd_content_types(api, unchanged, content_type):
    response = api.post(
        "/api/jobs/", content=b'{"name": "x"}', headers={"Content-Type": content_type}
    )
    assert response.status_code == 415, (content_type, response.text)


@pytest.mark.parametrize(
    "path",
    [
        f"/api/jobs/{'9' * 30}/",
        f"/api/jobs/{2**63}/",
        f"/api/jobs/{2**64}/statuses/",
        "/api/jobs/-1/",
        "/api/jobs/0x10/",
        "/api/jobs/%2e%2e/",
        "/api/jobs/../../etc/passwd",
        "/api/jobs/1;drop table jobs_job/",
        "/api/%ff%fe/",
    ],
)
def test_odd_paths_are_404s(api, path):
    assert api.get(path).status_code == 404
    assert api.patch(path, json={"status_type": "RUNNING"}).status_code in (404, 405)


@pytest.mark.parametrize(
    "query",
    [
        f"offset={'9' * 400}",
        "limit=1e400",
        "offset=NaN",
        "limit=%00",
        "search=%00",
        "status=RUNNING%00",
        "ordering=-created_at;drop",
        "status[]=RUNNING",
        "search=" + "x" * 300,
    ],
)
def test_odd_query_strings_are_400s(api, query):
    assert api.get(f"/api/jobs/?{query}").status_code == 400


def test_a_huge_limit_is_clamped_to_a_full_page_of_100(api, admin_db):
    # Enough jobs that a clamp to anything but 100 shows (the bug would pass with none).
    missing = 101 - job_count(admin_db)
    if missing > 0:
        admin_db.execute(
            "INSERT INTO jobs_job (name, created_at, updated_at, current_status_type, "
            "current_status_timestamp) SELECT 'clamp-' || n, now(), now(), 'PENDING', now() "
            "FROM generate_series(1, %s) AS n",
            [missing],
        )
        admin_db.execute(
            "INSERT INTO jobs_jobstatus (job_id, status_type, timestamp) SELECT id, "
            "'PENDING', created_at FROM jobs_job WHERE name LIKE 'clamp-%%'"
        )
    response = api.get(f"/api/jobs/?limit={'9' * 400}")
    assert response.status_code == 200
    assert len(response.json()["results"]) == 100


def test_undecodable_bytes_in_a_search_are_read_as_the_replacement_character(api):
    # Read as U+FFFD (as Django does), which a name may hold like any other character.
    marker = uuid.uuid4().hex
    job = create_job(api, f"\ufffd{marker}")
    response = api.get(f"/api/jobs/?search=%ff{marker}")
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [job["id"]]


def test_a_nul_byte_in_the_path_is_refused_by_the_gateway(api):
    assert api.get("/api/jobs/1%00/").status_code == 400


def test_a_search_with_like_wildcards_and_quotes_is_text(api):
    marker = uuid.uuid4().hex
    job = create_job(api, f"100%_'\"\\ {marker}")
    found = api.get("/api/jobs/", params={"search": f"%_'\"\\ {marker}"}).json()["results"]
    assert [row["id"] for row in found] == [job["id"]]


def test_an_overlong_uri_is_a_414_problem_from_the_gateway(api):
    response = api.get(f"/api/jobs/?search={LONG}")
    assert response.status_code == 414


def test_an_oversized_header_is_a_431_problem_from_the_gateway(api):
    response = api.get("/api/jobs/", headers={"X-Padding": LONG})
    assert response.status_code == 431


@pytest.mark.parametrize(
    "headers",
    [
        {"Accept": "text/html"},
        {"Accept": "application/xml"},
        {"If-None-Match": LONG[:2000]},
        {"If-Match": "W/"},
        {"Idempotency-Key": "x" * 256},
        {"X-Request-ID": "../../"},
        {"X-Forwarded-For": "not-an-ip"},
    ],
)
def test_odd_headers_get_answers_not_crashes(raw_api, contract, headers):
    response = raw_api.get("/api/jobs/", headers=headers)
    assert response.status_code < 500, (headers, response.text)
    if response.status_code >= 400:
        contract.check_problem(response)


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.2"])
def test_a_host_outside_allowed_hosts_is_a_400_problem_through_the_gateway(
    system, raw_api, contract, unchanged, host
):
    host = host.format(port=system.config.gateway_port)
    # The gateway forwards the client's Host; the services check it (ALLOWED_HOSTS).
    for method, path, body in [("GET", "/api/jobs/", None), ("POST", "/api/jobs/", {"name": "x"})]:
        response = raw_api.request(method, path, json=body, headers={"Host": host})
        assert response.status_code == 400, (host, response.text)
        contract.check_problem(response)


def test_an_allowed_host_with_any_port_is_served(system, raw_api):
    for host in ("localhost", f"127.0.0.1:{system.config.gateway_port}", "[::1]:1"):
        assert raw_api.get("/api/jobs/?limit=1", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize(
    "injected", [b"../../\r", b"a\rX-Injected: 1", b"a\r\nX-Injected: 1", b"a\nX-Injected: 1"]
)
def test_a_cr_or_lf_in_a_request_id_never_reaches_an_answer(system, injected):
    # nginx refuses a lone CR inside a value (400) or ends the line at it; a LF starts a
    # header of its own. Either way no CR, LF or header the client wrote comes back.
    response = send(
        system.config.gateway_port,
        request_bytes(
            "GET", "/api/jobs/?limit=1", headers=[("X-Request-ID", injected.decode("latin-1"))]
        ),
    )
    assert response.status in (200, 400), response
    if response.status == 400:
        assert response.header("Content-Type") == "application/problem+json"
    # The gateway's own id, or the plain token before the line break (`a`), never more.
    assert re.fullmatch(r"[0-9a-f]{32}|a", response.header("X-Request-ID") or ""), response
    assert "x-injected" not in response.header_names()


def test_a_malformed_request_line_is_a_400_problem_from_the_gateway(system, contract):
    with socket.create_connection(("127.0.0.1", system.config.gateway_port), timeout=5) as sock:
        sock.sendall(b"GET /api/jobs/ HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n")
        raw = sock.recv(65536).decode("latin-1")
    head, _, body = raw.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 400")
    assert "Content-Type: application/problem+json" in head
    assert json.loads(body)["status"] == 400
