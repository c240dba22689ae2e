"""Safe defaults through the gateway: CORS allowlist, rate limiting, structured logs."""

import contextlib
import dataclasses
import json
import socket
import threading
import time
import uuid

import httpx
import pytest

from stack.config import TEST_ORIGIN
from stack.processes import Gateway
from tests.contract.helpers import run_in_threads

FOREIGN_ORIGIN = "http://evil.test"


def test_an_allowed_origin_may_read_and_sees_the_useful_headers(api):
    response = api.get("/api/jobs/", headers={"Origin": TEST_ORIGIN})
    assert response.headers["Access-Control-Allow-Origin"] == TEST_ORIGIN
    exposed = response.headers["Access-Control-Expose-Headers"].lower()
    assert {"etag", "location", "x-request-id"} <= {h.strip() for h in exposed.split(",")}


def test_a_foreign_origin_gets_no_cors_grant(api):
    response = api.get("/api/jobs/", headers={"Origin": FOREIGN_ORIGIN})
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize(("origin", "granted"), [(TEST_ORIGIN, True), (FOREIGN_ORIGIN, False)])
def test_a_preflight_for_a_patch_is_answered_by_the_allowlist(raw_api, origin, granted):
    response = raw_api.options(
        "/api/jobs/1/",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "content-type, if-match, idempotency-key",
        },
    )
    assert response.status_code == 200
    assert (response.headers.get("Access-Control-Allow-Origin") == origin) is granted
    if granted:
        assert "PATCH" in response.headers["Access-Control-Allow-Methods"]
        allowed = response.headers["Access-Control-Allow-Headers"].lower()
        assert "if-match" in allowed and "idempotency-key" in allowed


@pytest.fixture
def strict_gateway(system, tmp_path):
    """A second gateway in front of the same services, allowing 1 request/s, burst 2."""
    config = dataclasses.replace(
        system.config,
        state_dir=tmp_path,
        gateway_port=system.config.gateway_port + 7,
        rate_limit=1,
        rate_burst=2,
    )
    gateway = Gateway(config)
    gateway.start()
    yield config.gateway_url
    gateway.stop()


def test_a_client_over_the_rate_limit_gets_429_problems_until_it_waits(strict_gateway, contract):
    """At 1 request/s with a burst of 2, the first three requests pass, a client that keeps
    sending meets a 429 problem with Retry-After: 1, and after that second it passes again.

    Asserted on the order of the answers, not on how long they took: on a slow machine the
    bucket refills meanwhile and more requests pass before the first 429, never fewer; 20
    requests cannot take the 17 s that would leave no 429 at all.
    """
    statuses: list[int] = []
    with httpx.Client(base_url=strict_gateway, timeout=10) as client:
        for _ in range(20):
            response = client.get("/api/jobs/", params={"limit": 1})
            statuses.append(response.status_code)
            if response.status_code == 429:
                break
        limited = response
        assert limited.status_code == 429, statuses
        assert statuses[:3] == [200, 200, 200] and set(statuses[:-1]) == {200}, statuses
        contract.check_problem(limited)
        assert limited.json()["type"] == "https://jobs.example/problems/rate-limited"
        assert limited.headers["Retry-After"] == "1"

        time.sleep(int(limited.headers["Retry-After"]))
        assert client.get("/api/jobs/", params={"limit": 1}).status_code == 200


def test_each_service_logs_one_json_line_per_request_with_the_gateways_request_id(api, system):
    request_id = f"log-{uuid.uuid4().hex}"
    api.post("/api/jobs/", json={"name": "logged"}, headers={"X-Request-ID": request_id})
    api.get("/api/jobs/", headers={"X-Request-ID": request_id})

    def lines_with_id(path):
        return [
            json.loads(line)
            for line in path.read_text().splitlines()
            if request_id in line and line.startswith("{")
        ]

    command = lines_with_id(system.config.logs_dir / "command.log")
    query = lines_with_id(system.config.logs_dir / "query.log")
    gateway = lines_with_id(system.config.logs_dir / "gateway-access.log")
    assert [(e["method"], e["path"], e["status"]) for e in command] == [("POST", "/api/jobs/", 201)]
    assert [(e["method"], e["path"], e["status"]) for e in query] == [("GET", "/api/jobs/", 200)]
    assert all(e["request_id"] == request_id and e["duration_ms"] >= 0 for e in command + query)
    assert [e["status"] for e in gateway] == [201, 200]


def test_readiness_is_served_by_each_service_but_not_through_the_gateway(system, api):
    for service in system.services.values():
        assert httpx.get(f"{service.url}/readyz", timeout=5).json() == {"status": "ready"}
    assert api.get("/readyz").status_code == 404


def test_many_clients_at_once_within_the_limits_are_never_refused(system):
    def read(_: int) -> int:
        with httpx.Client(base_url=system.config.gateway_url, timeout=10) as client:
            return client.get("/api/jobs/", params={"limit": 1}).status_code

    assert set(run_in_threads(read, range(64), workers=8, timeout=60)) == {200}


@pytest.fixture
def silent_upstream():
    """A TCP server that accepts connections and never answers: a hung service."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                accepted.append(server.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)  # its accept() wakes every 0.2 s to see `stop`
    assert not thread.is_alive()
    for conn in accepted:
        conn.close()
    server.close()


def test_a_service_that_does_not_answer_in_time_is_a_504_problem(
    system, tmp_path, silent_upstream, contract
):
    port = int(silent_upstream.rsplit(":", 1)[1])
    config = dataclasses.replace(
        system.config,
        state_dir=tmp_path,
        gateway_port=system.config.gateway_port + 8,
        query_port=port,
        upstream_timeout="1s",
    )
    gateway = Gateway(config)
    gateway.start()
    try:
        with httpx.Client(base_url=config.gateway_url, timeout=10) as client:
            response = client.get("/api/jobs/")
    finally:
        gateway.stop()
    assert response.status_code == 504
    contract.check_problem(response)
    assert response.json()["type"] == "https://jobs.example/problems/gateway-timeout"
